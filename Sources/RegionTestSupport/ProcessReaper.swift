import Foundation
import Synchronization

/// Every process a test starts dies with the test process, however it dies: a crash, a
/// sanitizer's halt, `kill -9`, a CI runner's timeout. (A TSan halt once left 5 regiond and
/// 3 etcd running, reparented to init, to disturb the next run.)
///
/// The first registration starts one reaper, a shell whose standard input is the read end
/// of a pipe only this process holds the write end of (close-on-exec, so no child inherits
/// it). The reaper reads until end of file, which comes when this process is gone, then
/// kills every process and process group registered in its file. PR_SET_PDEATHSIG is no
/// help here: it fires when the *thread* that started the child exits, and the threads that
/// start children (the concurrency pool's) come and go.
public enum ProcessReaper {
    private struct Reaper {
        let registry: String
        let writeEnd: Int32
    }

    private static let reaper = Mutex<Reaper?>(nil)

    /// Kills `pid` (and its process group, when it leads one) if this process dies first.
    public static func register(_ pid: Int32) {
        guard pid > 0, let registry = self.started() else { return }
        // One line per pid, appended: the reaper reads the whole file only at the end.
        guard let handle = FileHandle(forWritingAtPath: registry) else { return }
        handle.seekToEndOfFile()
        handle.write(Data("\(pid)\n".utf8))
        try? handle.close()
    }

    private static func started() -> String? {
        self.reaper.withLock { reaper -> String? in
            if let reaper { return reaper.registry }
            let registry = "/tmp/regiond-test-reaper-\(getpid())"
            guard FileManager.default.createFile(atPath: registry, contents: nil) else { return nil }
            var ends: [Int32] = [0, 0]
            // pipe2(2) with O_CLOEXEC, so no child started meanwhile inherits the write end
            // (Swift's Glibc module does not import pipe2's declaration).
            typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
            guard let symbol = dlsym(nil, "pipe2"), unsafeBitCast(symbol, to: Pipe2.self)(&ends, O_CLOEXEC) == 0 else { return nil }
            let script = """
                cat >/dev/null
                for pid in $(cat \(registry)); do kill -KILL -- -$pid 2>/dev/null; kill -KILL $pid 2>/dev/null; done
                rm -f \(registry)
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            process.standardInput = FileHandle(fileDescriptor: ends[0], closeOnDealloc: false)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                close(ends[0])
                close(ends[1])
                return nil
            }
            // The reaper has its copy of the read end; this process keeps only the write end.
            close(ends[0])
            reaper = Reaper(registry: registry, writeEnd: ends[1])
            return registry
        }
    }
}
