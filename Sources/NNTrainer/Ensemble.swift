// Ensembles (chapter 6): several networks of one configuration, trained from different seeds,
// in parallel on the available cores, to be combined into a voting ensemble model.

import Foundation
import NNModel

/// Trains `members` networks of `config`, member k (from 0) with seed `config.seed + k`, on up to
/// `threads` threads at once.
///
/// Each member trains from its own seed, exactly as `train` would alone, so the members (and
/// their order in the result) do not depend on `threads`. When members train side by side, each
/// runs on one thread (`Network.threads = 1`); the network's results do not depend on that either. The data, including a
/// fixed expansion such as shift1, is prepared once and shared by all members.
///
/// - Parameters:
///   - config: every member's configuration but the seed.
///   - members: how many networks (at least 1).
///   - data: MNIST as `MNIST.load` returns it.
///   - threads: how many members train at once (default: the active processor count).
///   - command: the command line, recorded in each member's provenance.
///   - checkpointBase: if given, member k writes checkpoints to
///     `ensembleCheckpointPath(base:member:)`: its starting state before any member trains, then
///     after every epoch. With `resume`, a member whose checkpoint exists continues from it (one
///     that had finished just rebuilds its outcome).
///   - resume: continue members from their checkpoints (see `checkpointBase`).
///   - observer: receives (member index, event), from the member's thread; it must be thread-safe.
/// - Returns: the members' outcomes, in member order.
/// - Throws: the first member's `TrainerError` (by member order) if any member fails.
public func trainEnsemble(_ config: TrainingConfig, members: Int, data: MNISTData, threads: Int? = nil,
                          command: String = "", checkpointBase: String? = nil, resume: Bool = false,
                          observer: (@Sendable (Int, TrainingEvent) -> Void)? = nil) throws(TrainerError) -> [TrainingOutcome] {
    guard members >= 1 else { throw TrainerError(.invalidArgument, "an ensemble needs at least one member, got \(members)") }
    let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
    guard threadCount >= 1 else { throw TrainerError(.invalidArgument, "threads must be positive, got \(threadCount)") }
    try config.validate()
    let prepared = try PreparedData(config: config, data: data)

    // With checkpoints, every member's starting state is written before any trains, so that an
    // interrupted ensemble can always be resumed in full (the member count is the number of
    // member checkpoints).
    var starts: [TrainingState?] = Array(repeating: nil, count: members)
    for k in 0..<members {
        let path = checkpointBase.map { ensembleCheckpointPath(base: $0, member: k) }
        if resume, let path, FileManager.default.fileExists(atPath: path) { continue }
        var memberConfig = config
        memberConfig.seed = config.seed &+ UInt64(k)
        let forward: ((TrainingEvent) -> Void)? = observer.map { o in { event in o(k, event) } }
        let state = try TrainingState.start(config: memberConfig, prepared: prepared, continuing: nil, observer: forward)
        if let path { try Checkpoint(config: memberConfig, state: state, command: command).write(to: path) }
        starts[k] = state
    }
    let initialStates = starts

    // Members training side by side run single-threaded each; one member at a time may use the
    // network's own two-thread split (the results are the same either way).
    let memberThreads = min(threadCount, members) > 1 ? 1 : Network.defaultThreads

    let work = EnsembleWork(count: members)
    let trainMember: @Sendable (Int) -> Result<TrainingOutcome, TrainerError> = { k in
        var memberConfig = config
        memberConfig.seed = config.seed &+ UInt64(k)
        let path = checkpointBase.map { ensembleCheckpointPath(base: $0, member: k) }
        let forward: ((TrainingEvent) -> Void)? = observer.map { o in { event in o(k, event) } }
        do throws(TrainerError) {
            if var state = initialStates[k] {
                state.network.threads = memberThreads
                return .success(try runTraining(config: memberConfig, prepared: prepared, state: &state, command: command,
                                                checkpointPath: path, observer: forward))
            }
            guard let path else { throw TrainerError(.internal, "member \(k + 1) has neither a start nor a checkpoint") }
            let checkpoint = try Checkpoint.read(path: path)
            guard checkpoint.config.seed == memberConfig.seed else {
                throw TrainerError(.format, "checkpoint \(path) belongs to seed \(checkpoint.config.seed), member \(k + 1) trains seed \(memberConfig.seed)")
            }
            var state = try checkpoint.trainingState()
            state.network.threads = memberThreads
            guard state.order.count == prepared.fixed.count else {
                throw TrainerError(.format, "checkpoint \(path) trains \(state.order.count) examples, the data gives \(prepared.fixed.count)")
            }
            return .success(try runTraining(config: checkpoint.config, prepared: prepared, state: &state,
                                            command: command, checkpointPath: path, observer: forward))
        } catch {
            return .failure(error)
        }
    }

    if threadCount == 1 || members == 1 {
        for k in 0..<members { work.store(k, trainMember(k)) }
    } else {
        let group = DispatchGroup()
        for _ in 0..<min(threadCount, members) {
            group.enter()
            let thread = Thread {
                while let k = work.next() { work.store(k, trainMember(k)) }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
    }

    var outcomes: [TrainingOutcome] = []
    for k in 0..<members {
        switch work.result(k) {
        case .success(let o)?: outcomes.append(o)
        case .failure(let e)?: throw TrainerError(e.kind, "ensemble member \(k + 1): \(e.message)")
        case nil: throw TrainerError(.internal, "ensemble member \(k + 1) did not run")
        }
    }
    return outcomes
}

/// The checkpoint of ensemble member `member` (from 0) for the base path `base`:
/// "BASE.member1", "BASE.member2", ...
public func ensembleCheckpointPath(base: String, member: Int) -> String { "\(base).member\(member + 1)" }

/// The members' models as one ensemble model voting by `voting`.
public func ensembleModel(_ outcomes: [TrainingOutcome], name: String, voting: VotingRule) -> EnsembleModel {
    EnsembleModel(name: name, members: outcomes.map(\.model), voting: voting)
}

/// The shared queue of member indices and their results.
private final class EnsembleWork: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int
    private var results: [Result<TrainingOutcome, TrainerError>?]

    init(count: Int) {
        self.count = count
        results = Array(repeating: nil, count: count)
    }

    /// The next member to train, or nil when all are taken.
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextIndex < count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func store(_ k: Int, _ r: Result<TrainingOutcome, TrainerError>) {
        lock.lock(); defer { lock.unlock() }
        results[k] = r
    }

    func result(_ k: Int) -> Result<TrainingOutcome, TrainerError>? {
        lock.lock(); defer { lock.unlock() }
        return results[k]
    }
}
