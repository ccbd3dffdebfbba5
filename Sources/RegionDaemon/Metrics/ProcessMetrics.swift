import Foundation

/// The standard `process_*` metrics, read from /proc at scrape time (the names and
/// meanings of Prometheus's client libraries).
struct ProcessMetrics {
    var cpuSeconds: Double?
    var residentBytes: Double?
    var virtualBytes: Double?
    var startTime: Double?
    var openFDs: Double?
    var maxFDs: Double?

    static func read() -> ProcessMetrics {
        var m = ProcessMetrics()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: the fields after the command name (which may hold spaces) in ")".
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is state (field 3); utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
            func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
            if let utime = field(14), let stime = field(15), ticks > 0 { m.cpuSeconds = (utime + stime) / ticks }
            if let start = field(22), ticks > 0, let boot = Self.bootTime() { m.startTime = boot + start / ticks }
            m.virtualBytes = field(23)
            if let rss = field(24) { m.residentBytes = rss * page }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { m.openFDs = Double(fds.count) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { m.maxFDs = Double(limit.rlim_cur) }
        return m
    }

    /// When the machine booted (Unix seconds): the wall clock less the time since boot.
    /// (Not `btime` of /proc/stat, which the unit's `ProcSubset=pid` hides; /proc/self/stat's
    /// start time counts from boot on the same clock as CLOCK_BOOTTIME.)
    static func bootTime() -> Double? {
        var wall = timespec()
        var sinceBoot = timespec()
        guard clock_gettime(CLOCK_REALTIME, &wall) == 0, clock_gettime(CLOCK_BOOTTIME, &sinceBoot) == 0 else { return nil }
        return (Double(wall.tv_sec) - Double(sinceBoot.tv_sec)) + (Double(wall.tv_nsec) - Double(sinceBoot.tv_nsec)) / 1e9
    }

    func add(to out: inout ExpositionText) {
        func gauge(_ name: String, _ unit: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            out.add("process_\(name)_\(unit)", .gauge, help, [], value)
        }
        if let cpu = self.cpuSeconds {
            out.add("process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.", [], cpu)
        }
        gauge("resident_memory", "bytes", "Resident memory size in bytes.", self.residentBytes)
        gauge("virtual_memory", "bytes", "Virtual memory size in bytes.", self.virtualBytes)
        gauge("start_time", "seconds", "Start time of the process since unix epoch in seconds.", self.startTime)
        gauge("open", "fds", "Number of open file descriptors.", self.openFDs)
        gauge("max", "fds", "Maximum number of open file descriptors.", self.maxFDs)
    }
}
