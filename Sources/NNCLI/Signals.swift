// SIGINT and SIGTERM during `nnrt train`. Only the command-line tool takes signals; the trainer
// library gets a `shouldStop` hook instead. The handler does nothing but record the signal (an
// atomic store, and for a repeated signal one write(2) to stderr: both async-signal-safe); the
// trainer polls the record between mini-batches, stops there, saves a checkpoint of that exact
// point, and `train` exits with 130 (SIGINT) or 143 (SIGTERM).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The first SIGINT or SIGTERM received while the handlers are installed (0: none).
private let receivedStopSignal = Atomic<Int32>(0)
/// How many such signals arrived.
private let stopSignalCount = Atomic<Int>(0)

/// The signal handler. Async-signal-safe: atomics and write(2) only, no allocation or locks.
private func recordStopSignal(_ signal: Int32) {
    _ = receivedStopSignal.compareExchange(expected: 0, desired: signal, ordering: .sequentiallyConsistent)
    let count = stopSignalCount.add(1, ordering: .sequentiallyConsistent).newValue
    if count == 2 {
        // A second Ctrl-C while the checkpoint is being saved changes nothing: say so once.
        let note: StaticString = "\nnnrt: still stopping: saving the checkpoint, then exiting (further signals are ignored)\n"
        note.withUTF8Buffer { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
    }
}

/// Installs and removes the stop handlers, and answers the trainer's `shouldStop`.
enum StopSignals {
    /// The signals that stop training gracefully.
    static let handled: [Int32] = [SIGINT, SIGTERM]

    /// Installs the handlers for SIGINT and SIGTERM. A signal that was ignored when nnrt started
    /// (`nohup`, a background job of a non-interactive shell) stays ignored, as is the convention.
    static func install() {
        for sig in handled {
            let previous = signal(sig, recordStopSignal)
            if isIgnore(previous) { _ = signal(sig, SIG_IGN) }
        }
    }

    /// Puts back the default actions (the handlers are only for the training itself).
    static func uninstall() {
        for sig in handled {
            let previous = signal(sig, SIG_DFL)
            if isIgnore(previous) { _ = signal(sig, SIG_IGN) }
        }
    }

    /// The trainer's `shouldStop` hook: true once a stop signal arrived.
    static let shouldStop: @Sendable () -> Bool = { receivedStopSignal.load(ordering: .relaxed) != 0 }

    /// The signal received (0: none).
    static var received: Int32 { receivedStopSignal.load(ordering: .sequentiallyConsistent) }

    /// "SIGINT" or "SIGTERM".
    static func name(_ sig: Int32) -> String { sig == SIGTERM ? "SIGTERM" : "SIGINT" }

    /// The exit status after stopping for `sig`: 130 for SIGINT, 143 for SIGTERM.
    static func exitStatus(_ sig: Int32) -> Int32 { sig == SIGTERM ? Exit.terminated : Exit.interrupted }

    private static func isIgnore(_ handler: (@convention(c) (Int32) -> Void)?) -> Bool {
        let ignoreAction: (@convention(c) (Int32) -> Void)? = SIG_IGN
        guard let handler, let ignore = ignoreAction else { return false }
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(ignore, to: Int.self)
    }
}
