import Dispatch

/// Every surface where bytes from outside enter regiond, as a fuzz target.
///
/// `run` feeds one input through the real code of that surface and checks what must
/// hold whatever the input; it returns a description of a violated property, or nil.
/// Traps (overflow, out of bounds, a failed precondition) are what the fuzzer itself
/// detects. `regiond-fuzz` runs them under libFuzzer (`make fuzz`); `make test` replays
/// every saved input (`Tests/Fuzz/corpus/TARGET/`) through the same functions.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// One control-socket request line, through the real dispatch of an in-memory daemon.
    case control
    /// Bytes a probed HTTP endpoint answers, through the probe's own framing, checked against NIOHTTP1's decoder.
    case probeAnswer = "probe-answer"
    /// The same bytes sent over a loopback connection to a probe loop's raw socket, checked against the framing alone.
    case probeSocket = "probe-socket"
    /// A configuration file, to a config or errors, then applied as a reload.
    case config
    /// Duration, fraction and time texts (config values and control fields).
    case durations
    /// What a command probe prints and how it exits.
    case execOutput = "exec-output"
    /// HAProxy runtime API answers.
    case haproxyAnswer = "haproxy-answer"
    /// What a peer writes into etcd in cluster mode: the committed state, an observation, a key.
    case clusterPeer = "cluster-peer"

    /// Makes what lives for the whole process (the in-memory daemon) and runs one input of
    /// each kind, so that one-time allocations happen before the fuzzer checks for leaks.
    public func warmUp() {
        if self == .control { _ = ControlHarness.daemon }
        _ = self.run(Array(#"{"cmd":"traffic"}"#.utf8))
        _ = self.run([0] + Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
    }

    public func run(_ input: [UInt8]) -> String? {
        switch self {
        case .control: ControlHarness.run(input)
        case .probeAnswer: ProbeAnswerHarness.run(input)
        case .probeSocket: ProbeSocketHarness.run(input)
        case .config: ValueHarnesses.config(input)
        case .durations: ValueHarnesses.durations(input)
        case .execOutput: ValueHarnesses.execOutput(input)
        case .haproxyAnswer: ValueHarnesses.haproxyAnswer(input)
        case .clusterPeer: ClusterHarness.run(input)
        }
    }
}

/// Runs async work to completion from synchronous code (the libFuzzer callback).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let result = ResultBox<T>()
    Task.detached {
        result.value = await body()
        done.signal()
    }
    done.wait()
    return result.value!
}

/// Written by one task before a semaphore signal, read after the wait.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
