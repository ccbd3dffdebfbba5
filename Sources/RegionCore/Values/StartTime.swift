import FoundationEssentials

/// When a scheduled drain or disable begins, as an operator types it (`regionctl drain eu
/// --at 02:00`): a time of day (`HH:MM`, the next one to come in `timeZone`), an ISO 8601
/// time, or a duration from now (`+30m`). Pure: the caller gives `now` and the time zone.
public enum StartTime {
    public static func parse(_ text: String, now: Date, timeZone: TimeZone) -> Result<Date, ControlError> {
        let trimmed = text.trimmingSpaces
        if trimmed.hasPrefix("+") {
            return DurationText.parse(String(trimmed.dropFirst()), field: "at", in: .zero...MaintenanceWindow.longest).map { now.addingTimeInterval($0.seconds) }
        }
        if let date = try? Date(trimmed, strategy: Date.ISO8601FormatStyle()) { return .success(date) }
        if let (hour, minute) = self.timeOfDay(trimmed) { return self.next(hour: hour, minute: minute, after: now, in: timeZone) }
        return .failure(
            ControlError(.badRequest, "at '\(clip(text, bytes: 40))' is not a time: write HH:MM (the next one, local time), +DURATION (+30m) or an ISO 8601 time"))
    }

    /// `02:00` -> (2, 0); nil unless two numbers in range.
    static func timeOfDay(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy(\.isASCII) }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        return (hour, minute)
    }

    /// The first moment after `now` whose local time in `timeZone` is hour:minute.
    static func next(hour: Int, minute: Int, after now: Date, in timeZone: TimeZone) -> Result<Date, ControlError> {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let wanted = DateComponents(hour: hour, minute: minute, second: 0)
        guard let date = calendar.nextDate(after: now, matching: wanted, matchingPolicy: .nextTime) else {
            return .failure(ControlError(.badRequest, "no \(hour):\(minute) follows now in time zone \(timeZone.identifier)"))
        }
        return .success(date)
    }
}
