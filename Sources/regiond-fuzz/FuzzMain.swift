import Foundation
import RegionFuzzing

// Built two ways:
// - `make fuzz` builds it with `-sanitize=fuzzer,address -DREGIOND_LIBFUZZER`: main hands
//   over to libFuzzer's driver, which calls `fuzzOneInput` with each input of the target
//   named by REGIOND_FUZZ_TARGET (libFuzzer's own flags pass through).
// - A normal build replays saved inputs, to reproduce a finding without the fuzzer:
//   `regiond-fuzz TARGET FILE...` (exit 1 when a property is violated).

#if REGIOND_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["REGIOND_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("regiond-fuzz: set REGIOND_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(64)
    }
    return target
}()

/// libFuzzer's archive refers to this entry point by name; the driver below is given the same function.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let finding = fuzzTarget.run(input) {
        fatalError("regiond-fuzz \(fuzzTarget.rawValue): \(finding)")
    }
    return 0
}
#endif

@main
struct FuzzMain {
    static func main() {
        #if REGIOND_LIBFUZZER
        // What lives for the whole process (the in-memory daemon, NIO's singletons) is made
        // before the first input, so LeakSanitizer, which checks each input, sees it as set up.
        fuzzTarget.warmUp()
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        #else
        Self.replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    static func replay(_ arguments: [String]) {
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
