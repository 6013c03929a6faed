// Ensembles (chapter 6): several networks of one configuration, trained from different seeds,
// in parallel on the available cores, to be combined into a voting ensemble model.

import Foundation
import NNModel

/// Trains `members` networks of `config`, member k (from 0) with seed `config.seed + k`, on up to
/// `threads` threads at once.
///
/// Each member trains from its own seed, exactly as `train` would alone, so the members (and
/// their order in the result) do not depend on `threads`. Up to `threads` members train side by
/// side; the threads are shared out among the members training at the moment, so that while
/// members run side by side each has one (`Network.threads = 1`), and when fewer remain than
/// there are threads, such as the last member of 5 on 2 threads, a member takes over a finished
/// neighbour's thread at its next mini-batch (a network uses at most 2). The network's results
/// do not depend on its thread count either. The data, including a fixed expansion such as
/// shift1, is prepared once and shared by all members.
///
/// - Parameters:
///   - config: every member's configuration but the seed.
///   - members: how many networks (at least 1).
///   - data: MNIST as `MNIST.load` returns it.
///   - threads: how many threads the ensemble uses, which is also how many members train at
///     once (default: the active processor count).
///   - command: the command line, recorded in each member's provenance.
///   - checkpointBase: if given, member k writes checkpoints to
///     `ensembleCheckpointPath(base:member:)` as `checkpointSchedule` says; with epoch
///     checkpoints (the default schedule) also its starting state before any member trains.
///     With `resume`, a member whose checkpoint exists continues from it (one that had
///     finished just rebuilds its outcome).
///   - resume: continue members from their checkpoints (see `checkpointBase`).
///   - checkpointSchedule: as for `train`, per member.
///   - shouldStop: as for `train`, polled by every member (from its thread). Once it returns
///     true, members stop at their next mini-batch boundary, no further member starts, and
///     with `checkpointBase` every member's checkpoint is on disk when this throws
///     `.interrupted`: the stopped point of each running member, the final state of each
///     finished one, the start of each that had not begun.
///   - observer: receives (member index, event), from the member's thread; it must be thread-safe.
/// - Returns: the members' outcomes, in member order.
/// - Throws: `.interrupted` if stopped; otherwise the first member's `TrainerError` (by member
///   order) if any member fails.
public func trainEnsemble(_ config: TrainingConfig, members: Int, data: MNISTData, threads: Int? = nil,
                          command: String = "", checkpointBase: String? = nil, resume: Bool = false,
                          checkpointSchedule: CheckpointSchedule = .everyEpoch,
                          shouldStop: (@Sendable () -> Bool)? = nil,
                          observer: (@Sendable (Int, TrainingEvent) -> Void)? = nil) throws(TrainerError) -> [TrainingOutcome] {
    guard members >= 1 else { throw TrainerError(.invalidArgument, "an ensemble needs at least one member, got \(members)") }
    let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
    guard threadCount >= 1 else { throw TrainerError(.invalidArgument, "threads must be positive, got \(threadCount)") }
    try config.validate()
    try checkpointSchedule.validate()
    let prepared = try PreparedData(config: config, data: data)

    // With epoch checkpoints, every member's starting state is written before any trains, so
    // that an interrupted ensemble can always be resumed in full (the member count is the number
    // of member checkpoints). Otherwise starts are written only if the run is stopped.
    var starts: [TrainingState?] = Array(repeating: nil, count: members)
    for k in 0..<members {
        let path = checkpointBase.map { ensembleCheckpointPath(base: $0, member: k) }
        if resume, let path, FileManager.default.fileExists(atPath: path) { continue }
        var memberConfig = config
        memberConfig.seed = config.seed &+ UInt64(k)
        let forward: ((TrainingEvent) -> Void)? = observer.map { o in { event in o(k, event) } }
        let state = try TrainingState.start(config: memberConfig, prepared: prepared, continuing: nil, observer: forward)
        if let path, checkpointSchedule.afterEveryEpoch {
            try Checkpoint(config: memberConfig, state: state, command: command).write(to: path)
        }
        starts[k] = state
    }
    let initialStates = starts

    // The threads are shared out among the members training at the moment (see `EnsembleWork`).
    let work = EnsembleWork(count: members, threads: threadCount)
    let trainMember: @Sendable (Int) -> MemberResult = { k in
        var memberConfig = config
        memberConfig.seed = config.seed &+ UInt64(k)
        let path = checkpointBase.map { ensembleCheckpointPath(base: $0, member: k) }
        let forward: ((TrainingEvent) -> Void)? = observer.map { o in { event in o(k, event) } }
        do throws(TrainerError) {
            var runConfig = memberConfig
            var state: TrainingState
            if let start = initialStates[k] {
                state = start
            } else {
                guard let path else { throw TrainerError(.internal, "member \(k + 1) has neither a start nor a checkpoint") }
                let checkpoint = try Checkpoint.read(path: path)
                guard checkpoint.config.seed == memberConfig.seed else {
                    throw TrainerError(.format, "checkpoint \(path) belongs to seed \(checkpoint.config.seed), member \(k + 1) trains seed \(memberConfig.seed)")
                }
                state = try checkpoint.trainingState()
                try state.check(against: prepared, config: checkpoint.config, what: "checkpoint \(path)")
                runConfig = checkpoint.config
            }
            let outcome = try runTraining(config: runConfig, prepared: prepared, state: &state, command: command,
                                          checkpointPath: path, schedule: checkpointSchedule, shouldStop: shouldStop,
                                          threadShare: { work.threadShare() }, observer: forward)
            return MemberResult(result: .success(outcome), config: runConfig, state: state)
        } catch {
            return MemberResult(result: .failure(error), config: memberConfig, state: nil)
        }
    }
    let stopRequested: @Sendable () -> Bool = { shouldStop?() ?? false }

    let workers = min(threadCount, members)
    work.setWorkers(workers)
    if workers == 1 {
        while !stopRequested(), let k = work.next() { work.store(k, trainMember(k)) }
        work.workerLeft()
    } else {
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            let thread = Thread {
                while !stopRequested(), let k = work.next() { work.store(k, trainMember(k)) }
                work.workerLeft()
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
    }

    // Stopped: make sure every member's checkpoint is on disk, then report the interruption.
    let results = (0..<members).map { work.result($0) }
    let interrupted = results.contains { r in
        if case .failure(let e)? = r?.result { return e.kind == .interrupted }
        return r == nil
    }
    if interrupted {
        if let base = checkpointBase {
            for k in 0..<members {
                let path = ensembleCheckpointPath(base: base, member: k)
                if let r = results[k] {
                    // A finished member: its final state (already there with epoch checkpoints).
                    // A stopped one wrote its checkpoint when it stopped.
                    if case .success = r.result, let state = r.state {
                        try Checkpoint(config: r.config, state: state, command: command).write(to: path)
                    }
                } else if let start = initialStates[k], !checkpointSchedule.afterEveryEpoch {
                    // Never started: its start (unless it is on disk already).
                    var memberConfig = config
                    memberConfig.seed = config.seed &+ UInt64(k)
                    try Checkpoint(config: memberConfig, state: start, command: command).write(to: path)
                }
            }
        }
        // A member that failed for another reason is still the error to report.
        for k in 0..<members {
            if case .failure(let e)? = results[k]?.result, e.kind != .interrupted {
                throw TrainerError(e.kind, "ensemble member \(k + 1): \(e.message)")
            }
        }
        let saved = checkpointBase.map { base in
            "; the checkpoints \(ensembleCheckpointPath(base: base, member: 0)) to \(ensembleCheckpointPath(base: base, member: members - 1)) hold each member's point"
        } ?? ""
        throw TrainerError(.interrupted, "ensemble training stopped\(saved)")
    }

    var outcomes: [TrainingOutcome] = []
    for k in 0..<members {
        switch results[k]?.result {
        case .success(let o)?: outcomes.append(o)
        case .failure(let e)?: throw TrainerError(e.kind, "ensemble member \(k + 1): \(e.message)")
        case nil: throw TrainerError(.internal, "ensemble member \(k + 1) did not run")
        }
    }
    return outcomes
}

/// What training one ensemble member gave: its outcome or error, and its configuration and final
/// state (nil if it failed or was stopped).
private struct MemberResult: Sendable {
    var result: Result<TrainingOutcome, TrainerError>
    var config: TrainingConfig
    var state: TrainingState?
}

/// The checkpoint of ensemble member `member` (from 0) for the base path `base`:
/// "BASE.member1", "BASE.member2", ...
public func ensembleCheckpointPath(base: String, member: Int) -> String { "\(base).member\(member + 1)" }

/// The members (from 0) whose checkpoints `ensembleCheckpointPath(base:member:)` exist, in
/// order, gaps included (a member file deleted by hand): every "BASE.memberK" in BASE's folder.
public func existingEnsembleCheckpoints(base: String) -> [Int] {
    let url = URL(fileURLWithPath: base)
    let prefix = url.lastPathComponent + ".member"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) else {
        return []
    }
    return names.compactMap { name -> Int? in
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard let k = Int(digits), k >= 1, String(k) == digits else { return nil }
        return k - 1
    }.sorted()
}

/// The members' models as one ensemble model voting by `voting`.
public func ensembleModel(_ outcomes: [TrainingOutcome], name: String, voting: VotingRule) -> EnsembleModel {
    EnsembleModel(name: name, members: outcomes.map(\.model), voting: voting)
}

/// The shared queue of member indices and their results, and the threads' share-out: each worker
/// thread trains one member after another until none is left, then leaves; the `threads` are
/// divided among the workers still training (a network uses 1 or 2).
private final class EnsembleWork: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int
    private let threads: Int
    private var workers = 0
    private var results: [MemberResult?]

    init(count: Int, threads: Int) {
        self.count = count
        self.threads = threads
        results = Array(repeating: nil, count: count)
    }

    /// Sets how many worker threads start.
    func setWorkers(_ n: Int) {
        lock.lock(); defer { lock.unlock() }
        workers = n
    }

    /// A worker found no member left to train.
    func workerLeft() {
        lock.lock(); defer { lock.unlock() }
        workers -= 1
    }

    /// The threads a training member may use now: its share of `threads` among the workers still
    /// training, 1 or 2.
    func threadShare() -> Int {
        lock.lock(); defer { lock.unlock() }
        return min(2, max(1, threads / max(1, workers)))
    }

    /// The next member to train, or nil when all are taken.
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextIndex < count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func store(_ k: Int, _ r: MemberResult) {
        lock.lock(); defer { lock.unlock() }
        results[k] = r
    }

    func result(_ k: Int) -> MemberResult? {
        lock.lock(); defer { lock.unlock() }
        return results[k]
    }
}
