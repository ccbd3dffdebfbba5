import Foundation
import RegionFuzzing

// Built two ways:
// - `make fuzz` builds it with `--sanitize=fuzzer --sanitize=address -DREGIOND_LIBFUZZER`:
//   libFuzzer provides `main` and calls the entry point below with each input of the
//   target named by REGIOND_FUZZ_TARGET.
// - A normal build replays saved inputs, to reproduce a finding without the fuzzer:
//   `regiond-fuzz TARGET FILE...` (exit 1 when a property is violated).

#if REGIOND_LIBFUZZER
let target: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["REGIOND_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("regiond-fuzz: set REGIOND_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(64)
    }
    return target
}()

/// Before the first input: whatever is made once per process (the in-memory daemon, NIO's
/// singletons) is made here, so that LeakSanitizer, which checks each input, sees it as
/// set up rather than leaked.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    target.warmUp()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let finding = target.run(input) {
        fatalError("regiond-fuzz \(target.rawValue): \(finding)")
    }
    return 0
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: regiond-fuzz \(names) FILE...\nReplays saved fuzz inputs; `make fuzz` builds the libFuzzer version.")
            exit(64)
        }
        var failed = false
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                failed = true
                continue
            }
            if let finding = target.run(Array(data)) {
                print("\(path): \(finding)")
                failed = true
            }
        }
        exit(failed ? 1 : 0)
    }
}
#endif
