// How `nnrt train` shows a run: the book's per-epoch lines (or JSON lines with --json) on
// standard output, and on a terminal a progress line on standard error with the epoch's bar,
// images per second and the time left (of the epoch and of the run). An ensemble shows one
// combined line: the whole run's bar, each running member's epoch and progress, how many wait.
// The trainer reports progress about 100 times an epoch; the line is drawn at most 10 times a
// second, so a fast epoch costs a clock read per report and nothing more.

import Foundation
import NNModel
import NNTrainer

final class TrainingDisplay: @unchecked Sendable {
    /// Per-epoch lines and events on standard output (off with --quiet).
    let verbose: Bool
    let json: Bool
    let members: Int
    let epochs: Int
    let batch: Int
    let examplesPerEpoch: Int
    /// Epochs of this configuration done before this run (a resumed single network).
    let epochsDoneBefore: Int
    let line: LiveLine
    private let lock = NSLock()
    private let started = monotonicSeconds()
    private var state: [MemberState]
    /// The whole run's fraction when the display first had one (a resumed run starts above 0).
    private var startFraction: Double?

    struct MemberState {
        var started = false
        var finished = false
        /// The epoch being trained (numbered over the network's whole history).
        var epoch = 0
        /// Epoch numbers before this configuration's first (a network continued with --from).
        var offset: Int?
        var done = 0
        var total = 0
        /// The first report of this epoch: rates are measured from it.
        var referenceTime = 0.0
        var referenceDone = 0
        /// Images of this run's finished epochs and wall time of its finished epochs.
        var images = 0
        /// Mini-batches of the first epoch that a resumed run had done before it started.
        var skipped = 0
        var epochWallTimes: [Double] = []
        var epochStartedAt = 0.0
    }

    init(config: TrainingConfig, members: Int, trainingImages: Int, epochsDoneBefore: Int, quiet: Bool, json: Bool) {
        verbose = !quiet
        self.json = json
        self.members = members
        epochs = max(config.epochs, 1)
        batch = config.miniBatchSize
        let shift = (try? ExpansionSpec.parse(config.expansion.isEmpty ? "none" : config.expansion))?.shift1 ?? false
        examplesPerEpoch = trainingImages * (shift ? 5 : 1)
        self.epochsDoneBefore = epochsDoneBefore
        line = LiveLine(enabled: !quiet)
        state = Array(repeating: MemberState(), count: members)
        let now = started
        for k in state.indices { state[k].epochStartedAt = now }
    }

    /// The observer of one network's run (member nil) or of ensemble member `member`.
    func handle(_ event: TrainingEvent, member: Int?) {
        switch event {
        case .progress(let p):
            progressed(p, member: member ?? 0)
        case .epochEnded(let m):
            epochEnded(m, member: member ?? 0)
            if members == 1 { line.reset() }
            guard verbose else { return }
            if json {
                line.printAbove([Self.epochJSON(m, member: member).text])
            } else {
                let prefix = member.map { "member \($0 + 1): " } ?? ""
                line.printAbove(epochLines(m).map { prefix + $0 })
            }
        case .stopped:
            lock.lock(); state[member ?? 0].finished = true; lock.unlock()
            fallthrough
        default:
            guard verbose else { return }
            if json {
                if let object = Self.eventJSON(event, member: member) { line.printAbove([object.text]) }
            } else if let text = eventLine(event) {
                line.printAbove([(member.map { "member \($0 + 1): " } ?? "") + text])
            }
        }
    }

    private func progressed(_ p: TrainingProgress, member k: Int) {
        let now = monotonicSeconds()
        lock.lock()
        var s = state[k]
        if !s.started || s.epoch != p.epoch {
            // The first report of a fresh epoch comes after 1% of it; a later one means the run
            // resumed within the epoch, and those mini-batches are not this run's work.
            if !s.started, p.miniBatchesDone > max(1, p.miniBatchesTotal / 100) { s.skipped = p.miniBatchesDone }
            s.started = true
            s.epoch = p.epoch
            s.referenceTime = now
            s.referenceDone = p.miniBatchesDone
            // Ensemble members always count from their first epoch (they cannot continue a model);
            // a single network may continue one (--from) or a checkpoint (--resume).
            if s.offset == nil { s.offset = members == 1 ? p.epoch - 1 - epochsDoneBefore : 0 }
        }
        s.done = p.miniBatchesDone
        s.total = p.miniBatchesTotal
        state[k] = s
        lock.unlock()
        guard line.due() else { return }
        line.show(members == 1 ? singleSegments(now) : ensembleSegments(now))
    }

    private func epochEnded(_ m: EpochMetrics, member k: Int) {
        let now = monotonicSeconds()
        lock.lock()
        var s = state[k]
        s.images += max(0, examplesPerEpoch - s.skipped * batch)
        if s.skipped == 0 { s.epochWallTimes.append(now - s.epochStartedAt) }   // a whole epoch's time
        s.skipped = 0
        s.epochStartedAt = now
        s.done = s.total
        if let offset = s.offset, m.epoch - offset >= epochs { s.finished = true }
        state[k] = s
        lock.unlock()
    }

    /// Batches per second of a member's current epoch, from its first report.
    private func batchRate(_ s: MemberState, _ now: Double) -> Double? {
        let dt = now - s.referenceTime
        guard dt > 0.05, s.done > s.referenceDone else { return nil }
        return Double(s.done - s.referenceDone) / dt
    }

    /// "Epoch 3/30 [bar] 52%  41k img/s  ETA 0:01, run 0:45".
    private func singleSegments(_ now: Double) -> [LiveLine.Segment] {
        lock.lock(); let s = state[0]; lock.unlock()
        let offset = s.offset ?? 0
        let last = offset + epochs
        let fraction = s.total > 0 ? Double(s.done) / Double(s.total) : 0
        var segments: [LiveLine.Segment] = [.init(text: "Epoch \(s.epoch)/\(last) ")]
        segments += LiveLine.bar(fraction)
        segments.append(.init(text: String(format: " %3d%%", Int(fraction * 100))))
        if let rate = batchRate(s, now) {
            segments.append(.init(text: "  \(compactCount(rate * Double(batch))) img/s", optional: true))
            let epochLeft = Double(s.total - s.done) / rate
            let remainingEpochs = max(0, last - s.epoch)
            // Later epochs take as long as this run's finished ones did (SGD and monitoring), or
            // as this one's SGD pass if none has finished yet.
            let perEpoch = s.epochWallTimes.isEmpty ? Double(s.total) / rate
                : s.epochWallTimes.reduce(0, +) / Double(s.epochWallTimes.count)
            var eta = "  ETA " + durationText(epochLeft)
            if remainingEpochs > 0 { eta += ", run " + durationText(epochLeft + Double(remainingEpochs) * perEpoch) }
            segments.append(.init(text: eta))
        }
        return segments
    }

    /// "Ensemble of 5 [bar] 23%  m1 e7 40%  m2 e7 38%  3 waiting  9.8k img/s  ETA 3:12".
    private func ensembleSegments(_ now: Double) -> [LiveLine.Segment] {
        lock.lock(); let all = state; lock.unlock()
        var fraction = 0.0
        var images = 0
        var running: [String] = []
        var waiting = 0, finished = 0
        for (k, s) in all.enumerated() {
            if s.finished {
                fraction += 1
                finished += 1
            } else if s.started {
                let within = s.total > 0 ? Double(s.done) / Double(s.total) : 0
                fraction += min(1, (Double(s.epoch - 1 - (s.offset ?? 0)) + within) / Double(epochs))
                running.append(s.done == s.total ? "m\(k + 1) e\(s.epoch) eval"
                               : String(format: "m%d e%d %d%%", k + 1, s.epoch, Int(within * 100)))
            } else {
                waiting += 1
            }
            images += s.images
            if !s.finished, s.started {
                images += max(0, min(examplesPerEpoch, s.done * batch) - s.skipped * batch)
            }
        }
        fraction /= Double(members)
        lock.lock()
        if startFraction == nil { startFraction = fraction }
        let first = startFraction ?? 0
        lock.unlock()
        var head: [LiveLine.Segment] = [.init(text: "Ensemble of \(members) ")]
        head += LiveLine.bar(fraction, width: 16)
        head.append(.init(text: String(format: " %3d%%", Int(fraction * 100))))
        var tail: [LiveLine.Segment] = []
        let elapsed = now - started
        if elapsed > 0.5 {
            tail.append(.init(text: "  \(compactCount(Double(images) / elapsed)) img/s", optional: true))
            if fraction > first {
                tail.append(.init(text: "  ETA " + durationText(elapsed / (fraction - first) * (1 - fraction))))
            }
        }
        // Each running member's epoch and progress if the line has room, else only the counts.
        var counts: [String] = []
        if !running.isEmpty { counts.append("\(running.count) running") }
        if waiting > 0 { counts.append("\(waiting) waiting") }
        if finished > 0 { counts.append("\(finished) done") }
        let detailed = "  " + (running + counts.dropFirst(running.isEmpty ? 0 : 1)).joined(separator: "  ")
        let compact = "  " + counts.joined(separator: ", ")
        let used = (head + tail.filter { !$0.optional }).reduce(0) { $0 + $1.text.count }
        let room = Console.columns() - 1 - used
        let who = detailed.count <= room ? detailed : compact
        return head + (counts.isEmpty ? [] : [.init(text: who, optional: true)]) + tail
    }

    func finish() { line.finish() }

    // MARK: JSON lines

    static func metricsJSON(_ m: SplitMetrics?) -> JSON {
        guard let m else { return .null }
        return .object([("correct", .optional(m.correct)), ("total", .int(m.total)),
                        ("accuracy", .optional(m.accuracy)), ("cost", .optional(m.cost))])
    }

    static func epochJSON(_ m: EpochMetrics, member: Int?) -> JSON {
        var fields: [(String, JSON)] = [("event", .string("epoch"))]
        if let member { fields.append(("member", .int(member + 1))) }
        fields += [("epoch", .int(m.epoch)), ("seconds", .seconds(m.seconds)), ("eta", .optional(m.eta)),
                   ("evaluation", metricsJSON(m.evaluation)), ("test", metricsJSON(m.test)),
                   ("training", metricsJSON(m.training)), ("gradient_norms", .numbers(m.gradientNorms))]
        return .object(fields)
    }

    static func eventJSON(_ event: TrainingEvent, member: Int?) -> JSON? {
        var fields: [(String, JSON)]
        switch event {
        case .initialGradientNorms(let norms): fields = [("event", .string("initial_gradient_norms")), ("norms", .numbers(norms))]
        case .etaChanged(let epoch, let eta): fields = [("event", .string("eta_changed")), ("epoch", .int(epoch)), ("eta", .double(eta))]
        case .stopped(let epoch, let reason): fields = [("event", .string("stopping")), ("epoch", .int(epoch)), ("reason", .string(reason))]
        case .checkpointWritten(let epoch, let path):
            fields = [("event", .string("checkpoint")), ("epoch", .int(epoch)), ("mini_batches_done", .null), ("path", .string(path))]
        case .checkpointWrittenWithinEpoch(let p, let path):
            fields = [("event", .string("checkpoint")), ("epoch", .int(p.epoch)), ("mini_batches_done", .int(p.miniBatchesDone)),
                      ("path", .string(path))]
        case .progress, .epochEnded: return nil
        }
        if let member { fields.insert(("member", .int(member + 1)), at: 1) }
        return .object(fields)
    }
}
