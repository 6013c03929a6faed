// The HTML page of `nnrt report` and `nnrt train --report`: one self-contained file (inline CSS
// and SVG, the digits as data: URIs, no script, no external fetch, which its Content-Security-Policy
// also forbids) that reads without a server and prints.
//
// Everything on the page is a figure from the model file (the provenance: hyper-parameters,
// per-epoch history, gradient norms) or from `TestMeasurement` (the model run on the MNIST test
// set when the report is made). Every text from the file (names, commands, labels, metadata) is
// escaped with `htmlEscaped`.

import Foundation
import NNImaging
import NNModel

/// A model's figures on the MNIST test set, measured when the report is made (Report.swift).
struct TestMeasurement: Sendable, Equatable {
    /// One misclassified test image.
    struct Mistake: Sendable, Equatable {
        /// Position in the test set, from 0.
        var index: Int
        /// Class indices of the true label and of the model's answer.
        var actual: Int
        var predicted: Int
        /// The model's combined output for its answer (see `Confidence`).
        var confidence: Float
        /// The 28x28 image as MNIST stores it (light digit on dark).
        var pixels: [UInt8]
    }

    /// What `Mistake.confidence` is.
    enum Confidence: Sendable, Equatable {
        /// A network's softmax output: a probability.
        case probability
        /// A network's output activation of another kind (e.g. sigmoid): not a probability.
        case output
        /// A majority-vote ensemble: the fraction of its members that gave the answer.
        case votes(members: Int)
        /// A mean-probability ensemble: the mean of its members' outputs (softmax or not).
        case meanOutput(members: Int, softmax: Bool)
    }

    var total: Int
    var correct: Int
    var classLabels: [String]
    /// confusion[true][predicted], classLabels.count square.
    var confusion: [[Int]]
    /// Every misclassified image, in test-set order.
    var mistakes: [Mistake]
    /// An ensemble's members, each on its own: correct answers out of `total`, in member order
    /// (empty for a network).
    var memberCorrect: [Int]
    var confidence: Confidence
    /// Where the test images came from.
    var dataSource: String
}

/// Everything one report page shows.
struct ReportInput {
    /// The model file's path, as the user gave it.
    var modelPath: String
    var file: ModelFile
    var test: TestMeasurement
    /// RFC 3339 UTC.
    var generatedAt: String
    /// The wall time of the `nnrt train` run that wrote the model (only known to `train --report`).
    var runWallSeconds: Double? = nil
    /// The most misclassified digits shown (all of them when there are at most this many).
    var galleryLimit = 150
}

/// Renders a `ReportInput` as the page's HTML.
struct ReportPage {
    let input: ReportInput

    init(_ input: ReportInput) { self.input = input }

    var networks: [NetworkModel] { input.file.networks }
    var isEnsemble: Bool { if case .ensemble = input.file.body { true } else { false } }
    var test: TestMeasurement { input.test }

    /// The model's name, else its file name without the extension.
    var displayName: String {
        let name: String
        switch input.file.body {
        case .network(let n): name = n.name
        case .ensemble(let e): name = e.name
        }
        if !name.isEmpty { return name }
        return ((input.modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The page.
    /// - Throws: `CLIError` (internal error) if a digit cannot be encoded as PNG.
    func render() throws -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<meta name=\"generator\" content=\"nnrt \(NNRTVersion.string)\">\n"
        h += "<title>\(htmlEscaped(displayName)) · nnrt training report</title>\n<style>\(Self.css)</style>\n</head>\n<body><main>\n"
        h += header()
        h += summary()
        h += "<div class=\"grid2 pair\">\n" + runSection() + hyperparameterSection() + "</div>\n"
        h += layerSection()
        if isEnsemble { h += memberSection() }
        h += curveSection()
        h += gradientSection()
        if !isEnsemble { h += historySection() }
        h += confusionSection()
        h += try gallerySection()
        h += footer()
        h += "</main></body></html>\n"
        return h
    }

    // MARK: - Header and summary

    func header() -> String {
        var badges: [String] = []
        switch input.file.body {
        case .network: badges.append("network")
        case .ensemble(let e): badges.append("ensemble of \(e.members.count) · \(e.voting.name) vote")
        }
        let p = networks.first?.provenance
        if let preset = p?.preset, !preset.isEmpty { badges.append("preset " + preset) }
        if let n = networks.first { badges.append(Self.architectureText(n)) }
        if let created = p?.createdAt, !created.isEmpty { badges.append("trained " + created) }
        var h = "<header id=\"report-header\" class=\"top\">\n<div class=\"kicker\">nnrt training report</div>\n"
        h += "<h1>\(htmlEscaped(displayName))</h1>\n<div class=\"badges\">"
        h += badges.map { "<span>\(htmlEscaped($0).replacingOccurrences(of: ",", with: ",<wbr>"))</span>" }.joined()
        h += "</div>\n<p class=\"path\">model file <code>\(htmlEscaped(input.modelPath))</code></p>\n"
        if let command = p?.command, !command.isEmpty {
            h += "<pre class=\"command\" id=\"command\">\(htmlEscaped(command))</pre>\n"
        }
        return h + "</header>\n"
    }

    func card(_ label: String, _ value: String, _ sub: String, id: String) -> String {
        "<div class=\"card\" id=\"\(id)\"><div class=\"label\">\(htmlEscaped(label))</div>"
            + "<div class=\"value\">\(htmlEscaped(value))</div><div class=\"sub\">\(htmlEscaped(sub))</div></div>"
    }

    /// The test-set evaluation recorded in the file ("mnist:t10k"), if any.
    var recordedTest: SplitMetrics? {
        let evaluations: [Evaluation]
        switch input.file.body {
        case .network(let n): evaluations = n.evaluations
        case .ensemble(let e): evaluations = e.evaluations
        }
        return evaluations.first { $0.dataset == "mnist:t10k" }?.metrics
    }

    func summary() -> String {
        var cards: [String] = []
        var sub = "\(groupedCount(test.correct)) of \(groupedCount(test.total)) MNIST test images, measured now"
        if let r = recordedTest, let c = r.correct {
            if c == test.correct && r.total == test.total {
                sub += "; the file records the same"
            } else {
                sub += "; the file records \(accuracyText(correct: c, total: r.total))"
            }
        }
        cards.append(card("Test accuracy", percent(test.correct, test.total), sub, id: "card-test-accuracy"))
        cards.append(card("Errors", groupedCount(test.total - test.correct), "misclassified test digits", id: "card-errors"))
        if let network = networks.first, !isEnsemble {
            let history = network.provenance?.epochs ?? []
            let split = Self.evaluationName(network.provenance)
            if let best = Self.bestEpoch(history), let ev = best.evaluation, let c = ev.correct {
                cards.append(card("Best epoch", "\(best.epoch)",
                                  "of \(history.count); \(split) accuracy \(accuracyText(correct: c, total: ev.total))", id: "card-best-epoch"))
                if let t = Self.testAtBest(best, network.provenance), let tc = t.correct {
                    cards.append(card("Test at best epoch", percent(tc, t.total), "\(groupedCount(tc)) of \(groupedCount(t.total)), epoch \(best.epoch)",
                                      id: "card-test-at-best"))
                } else {
                    cards.append(card("Test at best epoch", "not recorded", "train with --monitor-test to record it", id: "card-test-at-best"))
                }
            } else {
                cards.append(card("Best epoch", "not recorded", "no evaluation accuracy in the history", id: "card-best-epoch"))
            }
            cards.append(card("Parameters", groupedCount(network.parameterCount), "weights and biases in \(network.layers.count) layers",
                              id: "card-parameters"))
        } else {
            if let bestMember = test.memberCorrect.indices.max(by: { test.memberCorrect[$0] < test.memberCorrect[$1] }) {
                let gain = 100 * Double(test.correct - test.memberCorrect[bestMember]) / Double(max(test.total, 1))
                cards.append(card("Best member alone", percent(test.memberCorrect[bestMember], test.total),
                                  "member \(bestMember + 1); the vote adds \(String(format: "%+.2f", gain)) points", id: "card-best-member"))
            }
            let total = networks.reduce(0) { $0 + $1.parameterCount }
            cards.append(card("Parameters", groupedCount(total), "\(networks.count) members", id: "card-parameters"))
        }
        let seconds = networks.reduce(0.0) { $0 + ($1.provenance?.epochs.reduce(0) { $0 + $1.seconds } ?? 0) }
        let epochs = networks.reduce(0) { $0 + ($1.provenance?.epochs.count ?? 0) }
        if epochs > 0 {
            let what = isEnsemble ? "SGD summed over \(epochs) member epochs, without monitoring" : "SGD of \(epochs) epochs, without monitoring"
            cards.append(card("Training time", Self.duration(seconds), what, id: "card-training-time"))
        }
        if let wall = input.runWallSeconds {
            cards.append(card("Wall time", Self.duration(wall), "of the nnrt train run, monitoring and test included", id: "card-wall-time"))
        }
        return "<section id=\"summary\" class=\"cards\">\n" + cards.joined(separator: "\n") + "\n</section>\n"
    }

    // MARK: - Run, hyper-parameters, layers, members

    func runSection() -> String {
        let p = networks.first?.provenance
        var h = "<section id=\"run\"><h2>Run</h2>\n"
        var rows: [(String, String)] = []
        if isEnsemble {
            let seeds = networks.map { $0.provenance.map { "\($0.seed)" } ?? "-" }
            rows.append(("Seeds", seeds.joined(separator: ", ") + " (member 1 to \(networks.count))"))
        } else if let p, p.hyperparameters != nil || !p.epochs.isEmpty {
            rows.append(("Seed", "\(p.seed)"))
        }
        if p?.command.isEmpty ?? true { rows.append(("Command", "not recorded")) }
        if let p {
            if !p.dataset.isEmpty {
                var data = p.dataset
                if !p.trainingSplit.isEmpty { data += ", training on " + p.trainingSplit }
                data += p.evaluationSplit.isEmpty ? ", no evaluation data" : ", evaluated on " + p.evaluationSplit
                rows.append(("Data", data))
            }
            if !p.createdAt.isEmpty { rows.append(("Created", p.createdAt)) }
            if !p.importedFrom.isEmpty { rows.append(("Imported from", p.importedFrom)) }
        }
        rows.append(("Written by", "\(input.file.producer.name) \(input.file.producer.version), format version \(input.file.formatVersion)"))
        for (key, value) in input.file.metadata { rows.append(("Metadata: " + key, value)) }
        h += Self.keyValues(rows) + "</section>\n"
        return h
    }

    func hyperparameterSection() -> String {
        var h = "<section id=\"hyperparameters\"><h2>Hyper-parameters</h2>\n"
        let sets = networks.map { $0.provenance?.hyperparameters }
        if sets.allSatisfy({ $0 == nil }) {
            h += "<div class=\"missing\" id=\"missing-hyperparameters\">The model file records no hyper-parameters"
            if let imported = networks.first?.provenance?.importedFrom, !imported.isEmpty {
                h += " (it was imported from \(htmlEscaped(imported)))"
            }
            return h + ".</div></section>\n"
        }
        if isEnsemble, sets.allSatisfy({ $0 == sets[0] }) {
            h += "<p class=\"note\">The same for all \(networks.count) members.</p>\n"
            h += Self.keyValues(Self.hyperparameterRows(sets[0]!) + selectionRows(networks[0]))
        } else if isEnsemble {
            for (i, n) in networks.enumerated() {
                h += "<h3>Member \(i + 1)</h3>\n"
                h += n.provenance?.hyperparameters.map { Self.keyValues(Self.hyperparameterRows($0) + selectionRows(n)) }
                    ?? "<p class=\"note\">not recorded</p>\n"
            }
        } else {
            h += Self.keyValues(Self.hyperparameterRows(sets[0]!) + selectionRows(networks[0]))
        }
        return h + "</section>\n"
    }

    /// Epochs trained and the weights kept.
    func selectionRows(_ n: NetworkModel) -> [(String, String)] {
        guard let p = n.provenance else { return [] }
        var rows: [(String, String)] = []
        if let h = p.hyperparameters, !p.epochs.isEmpty, p.epochs.count != h.epochs {
            rows.append(("Epochs trained", "\(p.epochs.count) (history of the file, continued or stopped runs included)"))
        }
        if let selected = p.selectedEpoch {
            rows.append(("Weights kept", "epoch \(selected), the best evaluation accuracy (--keep-best)"))
        } else if !p.epochs.isEmpty {
            rows.append(("Weights kept", "the last epoch's"))
        }
        return rows
    }

    static func hyperparameterRows(_ h: Hyperparameters) -> [(String, String)] {
        var rows: [(String, String)] = []
        rows.append(("Network", h.architecture.isEmpty ? "[" + h.sizes.map(String.init).joined(separator: ", ") + "]" : h.architecture))
        rows.append(("Cost", h.cost.name))
        rows.append(("Learning rate η", String(format: "%g", h.eta)))
        rows.append(("Regularisation", h.lambda == 0 ? "none (λ = 0)" : "\(h.regularization.name), λ = \(String(format: "%g", h.lambda))"))
        rows.append(("Mini-batch size", "\(h.miniBatchSize)"))
        rows.append(("Epochs", "\(h.epochs)"))
        rows.append(("Weight initialisation", h.weightInit.name))
        rows.append(("Momentum", h.momentum == 0 ? "none (plain SGD)" : "μ = " + String(format: "%g", h.momentum)))
        if h.schedulePatience > 0 {
            var text = "η ÷ \(String(format: "%g", h.scheduleFactor)) after \(h.schedulePatience) epochs without improvement"
            if h.scheduleStopFraction > 0 { text += ", stop at \(String(format: "%g", h.scheduleStopFraction)) of the start" }
            rows.append(("Learning-rate schedule", text))
        } else {
            rows.append(("Learning-rate schedule", "constant η"))
        }
        rows.append(("Early stopping", h.earlyStoppingPatience > 0 ? "after \(h.earlyStoppingPatience) epochs without improvement" : "off"))
        rows.append(("Training examples", groupedCount(h.trainingExamples) + (h.expansion.isEmpty ? "" : ", expanded by " + h.expansion)))
        return rows
    }

    func layerSection() -> String {
        var h = "<section id=\"layers\"><h2>Layers</h2>\n"
        // Members with the same layer shapes share one table.
        var groups: [(members: [Int], network: NetworkModel)] = []
        for (i, n) in networks.enumerated() {
            if let g = groups.firstIndex(where: { Self.sameShapes($0.network, n) }) {
                groups[g].members.append(i + 1)
            } else {
                groups.append(([i + 1], n))
            }
        }
        for group in groups {
            if isEnsemble {
                let which = group.members.count == networks.count ? "Every member" : "Members " + group.members.map(String.init).joined(separator: ", ")
                h += "<p class=\"note\">\(which):</p>\n"
            }
            h += Self.layerTable(group.network)
        }
        return h + "</section>\n"
    }

    static func sameShapes(_ a: NetworkModel, _ b: NetworkModel) -> Bool {
        a.layers.count == b.layers.count && zip(a.layers, b.layers).allSatisfy { x, y in
            x.kind == y.kind && x.inputShape == y.inputShape && x.outputShape == y.outputShape && x.activation == y.activation
                && x.weights.shape == y.weights.shape && x.poolShape == y.poolShape && x.dropout == y.dropout && x.name == y.name
        }
    }

    static func layerTable(_ n: NetworkModel) -> String {
        func dims(_ shape: [Int]) -> String { shape.isEmpty ? "–" : shape.map(String.init).joined(separator: "×") }
        var h = "<table class=\"data layers\"><thead><tr><th class=\"num\">#</th><th>layer</th><th>kind</th><th>input</th><th>output</th>"
        h += "<th>activation</th><th>weights</th><th>notes</th><th class=\"num\">parameters</th></tr></thead><tbody>\n"
        for (i, layer) in n.layers.enumerated() {
            var notes: [String] = []
            if layer.kind == .conv2d, layer.weights.shape.count == 4 { notes.append("\(layer.weights.shape[2])×\(layer.weights.shape[3]) kernels") }
            if layer.kind == .maxPool2d { notes.append("pool " + dims(layer.poolShape)) }
            if layer.dropout > 0 { notes.append("dropout " + String(format: "%g", layer.dropout)) }
            h += "<tr><td class=\"num\">\(i + 1)</td><td>\(htmlEscaped(layer.name))</td><td>\(layer.kind.name)</td>"
            h += "<td>\(dims(layer.inputShape))</td><td>\(dims(layer.outputShape))</td><td>\(layer.activation.name)</td>"
            h += "<td>\(dims(layer.weights.shape))</td><td>\(notes.joined(separator: ", "))</td>"
            h += "<td class=\"num\">\(groupedCount(layer.weights.data.count + layer.bias.data.count))</td></tr>\n"
        }
        h += "<tr class=\"total\"><td></td><td>total</td><td colspan=\"6\"></td><td class=\"num\">\(groupedCount(n.parameterCount))</td></tr>\n"
        return h + "</tbody></table>\n"
    }

    func memberSection() -> String {
        var h = "<section id=\"members\"><h2>Members</h2>\n"
        h += "<p class=\"note\">Each member on its own, run now on the \(groupedCount(test.total)) test images, and its recorded training history.</p>\n"
        h += "<table class=\"data\" id=\"members-table\"><thead><tr><th>member</th><th>name</th><th class=\"num\">seed</th><th class=\"num\">epochs</th>"
        h += "<th>best evaluation epoch</th><th class=\"num\">test at that epoch</th><th class=\"num\">test accuracy now</th>"
        h += "<th class=\"num\">SGD time</th></tr></thead><tbody>\n"
        for (i, n) in networks.enumerated() {
            let p = n.provenance
            let history = p?.epochs ?? []
            var bestText = "not recorded", testAtBestText = "not recorded"
            if let best = Self.bestEpoch(history), let ev = best.evaluation, let c = ev.correct {
                bestText = "\(best.epoch): \(percent(c, ev.total)) \(Self.evaluationName(p))"
                if let t = Self.testAtBest(best, p), let tc = t.correct { testAtBestText = percent(tc, t.total) }
            }
            let now = i < test.memberCorrect.count ? accuracyText(correct: test.memberCorrect[i], total: test.total) : "–"
            h += "<tr data-member=\"\(i + 1)\"><td>\(i + 1)</td><td>\(htmlEscaped(n.name))</td><td class=\"num\">\(p.map { "\($0.seed)" } ?? "–")</td>"
            h += "<td class=\"num\">\(history.count)</td><td>\(htmlEscaped(bestText))</td><td class=\"num\">\(testAtBestText)</td>"
            h += "<td class=\"num member-accuracy\">\(now)</td><td class=\"num\">\(Self.duration(history.reduce(0) { $0 + $1.seconds }))</td></tr>\n"
        }
        var rule = ""
        if case .ensemble(let e) = input.file.body { rule = e.voting.name }
        h += "<tr class=\"total\"><td colspan=\"6\">ensemble, \(htmlEscaped(rule)) vote</td>"
        h += "<td class=\"num\">\(accuracyText(correct: test.correct, total: test.total))</td><td></td></tr>\n"
        return h + "</tbody></table></section>\n"
    }

    // MARK: - Learning curves

    static let palette = ["#2f6fdb", "#e8710a", "#1e9e5a", "#d93838", "#8e5cc9", "#8c564b", "#d7489d", "#6b7280", "#b5a51a", "#13a3b8"]
    /// Colours of the training, evaluation and monitored test data.
    static let trainingColor = "#2f6fdb", evaluationColor = "#e8710a", testColor = "#1e9e5a"

    /// A chart or, when it has nothing to draw, the missing-data box.
    func figure(_ chart: LineChart, caption: String, notes: [String]) -> String {
        var h = "<figure class=\"chart\" id=\"fig-\(chart.id)\"><figcaption>\(htmlEscaped(caption))</figcaption>\n"
        h += chart.svg() + "\n"
        var all = notes
        let dropped = chart.undrawableCount
        if dropped > 0 {
            all.append("\(dropped) value\(dropped == 1 ? " is" : "s are") not finite, beyond 1e15\(chart.logY ? " or not positive" : "") "
                       + "and not drawn (see the history).")
        }
        for note in all { h += "<p class=\"note\">\(Self.noteHTML(note))</p>\n" }
        return h + "</figure>\n"
    }

    func missing(_ id: String, _ text: String) -> String {
        "<div class=\"missing\" id=\"missing-\(id)\">\(Self.noteHTML(text))</div>\n"
    }

    /// A note of the generator's own (it may quote a model file's text): escaped, with the
    /// command-line flags it names set as code that does not break across lines.
    static func noteHTML(_ text: String) -> String {
        htmlEscaped(text).replacingOccurrences(of: "(--[a-z0-9][a-z0-9-]*)", with: "<code class=\"flag\">$1</code>",
                                               options: .regularExpression)
    }

    func curveSection() -> String {
        var h = "<section id=\"curves\"><h2>Learning curves</h2>\n"
        if networks.allSatisfy({ ($0.provenance?.epochs ?? []).isEmpty }) {
            h += missing("accuracy", "The model file records no training history, so there is no accuracy to plot.")
            h += missing("cost", "The model file records no training history, so there is no cost to plot.")
            return h + "</section>\n"
        }
        var notes: [String] = []
        h += "<div class=\"grid2\">\n"
        if isEnsemble {
            h += ensembleCurves(accuracy: true, notes: &notes) + ensembleCurves(accuracy: false, notes: &notes)
        } else {
            h += networkAccuracy() + networkCost()
        }
        h += "</div>\n"
        for note in notes { h += "<p class=\"note\">\(Self.noteHTML(note))</p>\n" }
        return h + "</section>\n"
    }

    /// y values in percent of a split's accuracy, or nil if the split's accuracy was never recorded.
    static func accuracyPoints(_ epochs: [EpochMetrics], _ split: (EpochMetrics) -> SplitMetrics?) -> [(x: Double, y: Double)]? {
        let points = epochs.compactMap { e -> (x: Double, y: Double)? in
            guard let m = split(e), let a = m.accuracy else { return nil }
            return (Double(e.epoch), 100 * a)
        }
        return points.isEmpty ? nil : points
    }

    static func costPoints(_ epochs: [EpochMetrics], _ split: (EpochMetrics) -> SplitMetrics?) -> [(x: Double, y: Double)]? {
        let points = epochs.compactMap { e -> (x: Double, y: Double)? in
            guard let c = split(e)?.cost else { return nil }
            return (Double(e.epoch), c)
        }
        return points.isEmpty ? nil : points
    }

    static let percentFormat: @Sendable (Double) -> String = { trimmedDecimal($0, 2) + "%" }
    static let costFormat: @Sendable (Double) -> String = { String(format: "%.4g", $0) }

    /// The best-epoch marker of a network's charts.
    func bestMarker(_ n: NetworkModel) -> (x: Double, label: String)? {
        guard let best = Self.bestEpoch(n.provenance?.epochs ?? []) else { return nil }
        let kept = n.provenance?.selectedEpoch == best.epoch ? " (weights kept)" : ""
        return (Double(best.epoch), "best epoch \(best.epoch)\(kept)")
    }

    func networkAccuracy() -> String {
        let n = networks[0]
        let epochs = n.provenance?.epochs ?? []
        let evalName = Self.evaluationName(n.provenance)
        var series: [ChartSeries] = []
        var notRecorded: [String] = []
        if let pts = Self.accuracyPoints(epochs, { $0.training }) {
            series.append(ChartSeries(label: "training data", color: Self.trainingColor, points: pts))
        } else {
            notRecorded.append("training accuracy (--monitor-training-accuracy)")
        }
        if let pts = Self.accuracyPoints(epochs, { $0.evaluation }) {
            series.append(ChartSeries(label: evalName + " data", color: Self.evaluationColor, points: pts))
        } else {
            notRecorded.append("\(evalName) accuracy")
        }
        if let pts = Self.accuracyPoints(epochs, { $0.test }) {
            series.append(ChartSeries(label: "test data", color: Self.testColor, points: pts))
        } else if evalName == "validation" {
            notRecorded.append("test accuracy per epoch (--monitor-test)")
        }
        guard !series.isEmpty else {
            return missing("accuracy", "No accuracy was recorded per epoch: train with --monitor-training-accuracy, or with evaluation data (--evaluate-on).")
        }
        let chart = LineChart(id: "chart-accuracy", title: "Accuracy per epoch", xLabel: "Epoch", yLabel: "Accuracy (%)",
                              series: series, yFormat: Self.percentFormat, yCeiling: 100, marker: bestMarker(n))
        return figure(chart, caption: "Classification accuracy",
                      notes: notRecorded.isEmpty ? [] : ["Not recorded: " + notRecorded.joined(separator: "; ") + "."])
    }

    func networkCost() -> String {
        let n = networks[0]
        let epochs = n.provenance?.epochs ?? []
        let evalName = Self.evaluationName(n.provenance)
        var series: [ChartSeries] = []
        var notRecorded: [String] = []
        if let pts = Self.costPoints(epochs, { $0.training }) {
            series.append(ChartSeries(label: "training data", color: Self.trainingColor, points: pts))
        } else {
            notRecorded.append("training cost (--monitor-training-cost)")
        }
        if let pts = Self.costPoints(epochs, { $0.evaluation }) {
            series.append(ChartSeries(label: evalName + " data", color: Self.evaluationColor, points: pts))
        } else {
            notRecorded.append("\(evalName) cost (--monitor-evaluation-cost)")
        }
        guard !series.isEmpty else {
            return missing("cost", "No cost was recorded per epoch: train with --monitor-training-cost and --monitor-evaluation-cost "
                           + "(the ch3-overfit presets record both, as in the book's chapter 3).")
        }
        let costName = n.provenance?.hyperparameters?.cost.name ?? n.cost.name
        let regularised = (n.provenance?.hyperparameters?.lambda ?? 0) > 0 ? ", regularisation term included" : ""
        let chart = LineChart(id: "chart-cost", title: "Cost per epoch", xLabel: "Epoch", yLabel: "Cost",
                              series: series, yFormat: Self.costFormat, marker: bestMarker(n))
        var notes = ["The \(costName) cost\(regularised)."]
        if !notRecorded.isEmpty { notes.append("Not recorded: " + notRecorded.joined(separator: "; ") + ".") }
        return figure(chart, caption: "Cost", notes: notes)
    }

    /// An ensemble's curves: one chart per data split, one line per member, each member's best
    /// evaluation epoch ringed.
    func ensembleCurves(accuracy: Bool, notes: inout [String]) -> String {
        let splits: [(key: String, name: String, get: (EpochMetrics) -> SplitMetrics?)] = [
            ("evaluation", Self.evaluationName(networks[0].provenance), { $0.evaluation }),
            ("training", "training", { $0.training }),
            ("test", "test", { $0.test }),
        ]
        var h = ""
        var missingSplits: [String] = []
        for split in splits {
            var series: [ChartSeries] = []
            for (i, n) in networks.enumerated() {
                let epochs = n.provenance?.epochs ?? []
                let pts = accuracy ? Self.accuracyPoints(epochs, split.get) : Self.costPoints(epochs, split.get)
                guard let pts else { continue }
                var s = ChartSeries(label: "member \(i + 1)", color: Self.palette[i % Self.palette.count], points: pts)
                if split.key == "evaluation" || split.key == "test", let best = Self.bestEpoch(epochs) { s.ringAt = Double(best.epoch) }
                series.append(s)
            }
            guard !series.isEmpty else {
                if split.key != "test" { missingSplits.append(split.name) }
                continue
            }
            let what = accuracy ? "accuracy" : "cost"
            var chart = LineChart(id: "chart-\(what)-\(split.key)", title: "\(split.name.capitalized) \(what) per epoch, each member",
                                  xLabel: "Epoch", yLabel: accuracy ? "Accuracy (%)" : "Cost", series: series)
            if accuracy {
                chart.yFormat = Self.percentFormat
                chart.yCeiling = 100
            } else {
                chart.yFormat = Self.costFormat
            }
            let notes = split.key == "training" ? [] : ["Rings: each member's best \(Self.evaluationName(networks[0].provenance)) epoch."]
            h += figure(chart, caption: "\(split.name.capitalized) data: \(what)", notes: notes)
        }
        let what = accuracy ? "accuracy" : "cost"
        if h.isEmpty {
            return missing(what, accuracy
                ? "No member recorded an accuracy per epoch."
                : "No member recorded a cost per epoch: train with --monitor-training-cost and --monitor-evaluation-cost.")
        }
        if !missingSplits.isEmpty {
            let flags = missingSplits.map { split in
                split == "training" ? (accuracy ? "--monitor-training-accuracy" : "--monitor-training-cost")
                    : (accuracy ? "--evaluate-on" : "--monitor-evaluation-cost")
            }
            notes.append("Not recorded: \(missingSplits.joined(separator: " and ")) \(what) (\(flags.joined(separator: ", "))).")
        }
        return h
    }

    // MARK: - Gradient norms

    func gradientSection() -> String {
        var h = "<section id=\"gradient-norms\"><h2>Gradient norms by layer</h2>\n"
        var figures: [String] = []
        for (i, n) in networks.enumerated() {
            guard let p = n.provenance else { continue }
            let epochs = p.epochs.filter { !$0.gradientNorms.isEmpty }
            guard !p.initialGradientNorms.isEmpty || !epochs.isEmpty else { continue }
            // The initial norms belong to the start of the run that measured them: just before its
            // first epoch with norms (epoch 0 for a model trained in one run).
            let start = Double((epochs.first?.epoch ?? 1) - 1)
            let layerNames = n.layers.filter { !$0.bias.data.isEmpty }.map(\.name)
            let layerCount = max(p.initialGradientNorms.count, epochs.map(\.gradientNorms.count).max() ?? 0)
            func name(_ l: Int) -> String { layerNames.count == layerCount ? layerNames[l] : "layer \(l + 1)" }
            var series: [ChartSeries] = []
            for l in 0..<layerCount {
                var pts: [(x: Double, y: Double)] = []
                if l < p.initialGradientNorms.count { pts.append((start, p.initialGradientNorms[l])) }
                for e in epochs where l < e.gradientNorms.count { pts.append((Double(e.epoch), e.gradientNorms[l])) }
                series.append(ChartSeries(label: name(l), color: Self.palette[l % Self.palette.count], points: pts))
            }
            let id = isEnsemble ? "chart-gradient-norms-member-\(i + 1)" : "chart-gradient-norms"
            let chart = LineChart(id: id, title: "Gradient norm of each layer per epoch", xLabel: "Epoch", yLabel: "‖∂C/∂b‖ (log scale)",
                                  series: series, logY: true, yFormat: { String(format: "%.3g", $0) })
            var caption = "‖∂C/∂b‖ per layer, input side first"
            if isEnsemble { caption = "Member \(i + 1): " + caption }
            let start0 = Int(start)
            figures.append(figure(chart, caption: caption, notes: [
                "The length of each layer's bias gradient on the first 1,000 training images, "
                + (p.initialGradientNorms.isEmpty ? "" : "at initialisation (epoch \(start0))")
                + (p.initialGradientNorms.isEmpty || epochs.isEmpty ? "" : " and ")
                + (epochs.isEmpty ? "" : "after each epoch") + ".",
            ]))
            if !isEnsemble {
                // The figures themselves, as the book quotes them: at the start and after the last epoch.
                var t = "<div class=\"norms\"><table class=\"data\" id=\"gradient-norms-table\"><thead><tr><th>layer</th>"
                t += "<th class=\"num\">at epoch \(start0)</th>"
                if let last = epochs.last { t += "<th class=\"num\">after epoch \(last.epoch)</th>" }
                t += "</tr></thead><tbody>\n"
                for l in 0..<layerCount {
                    t += "<tr><td>\(htmlEscaped(name(l)))</td>"
                    t += "<td class=\"num\">\(l < p.initialGradientNorms.count ? String(format: "%.4g", p.initialGradientNorms[l]) : "–")</td>"
                    if let last = epochs.last {
                        t += "<td class=\"num\">\(l < last.gradientNorms.count ? String(format: "%.4g", last.gradientNorms[l]) : "–")</td>"
                    }
                    t += "</tr>\n"
                }
                t += "</tbody></table>\n<p class=\"note\">The book's chapter 5 finds the early layers' gradients smaller: "
                t += "those layers learn more slowly (the vanishing gradient problem).</p></div>\n"
                figures.append(t)
            }
        }
        if figures.isEmpty {
            h += missing("gradient-norms", "Gradient norms were not recorded for this model: train with --gradient-norms (the ch5-depth presets do).")
        } else {
            h += "<div class=\"grid2\">\n" + figures.joined() + "</div>\n"
        }
        return h + "</section>\n"
    }

    // MARK: - History

    func historySection() -> String {
        let n = networks[0]
        let epochs = n.provenance?.epochs ?? []
        var h = "<section id=\"history\"><h2>Per-epoch history</h2>\n"
        guard !epochs.isEmpty else {
            return h + missing("history", "The model file records no training history.") + "</section>\n"
        }
        let evalName = Self.evaluationName(n.provenance)
        let best = Self.bestEpoch(epochs)?.epoch
        let has = (trainCost: epochs.contains { $0.training?.cost != nil }, trainAcc: epochs.contains { $0.training?.correct != nil },
                   evalCost: epochs.contains { $0.evaluation?.cost != nil }, evalAcc: epochs.contains { $0.evaluation?.correct != nil },
                   testAcc: epochs.contains { $0.test?.correct != nil }, eta: epochs.contains { $0.eta != nil })
        var head = "<th class=\"num\">epoch</th>"
        if has.trainCost { head += "<th class=\"num\">training cost</th>" }
        if has.trainAcc { head += "<th class=\"num\">training accuracy</th>" }
        if has.evalCost { head += "<th class=\"num\">\(evalName) cost</th>" }
        if has.evalAcc { head += "<th class=\"num\">\(evalName) accuracy</th>" }
        if has.testAcc { head += "<th class=\"num\">test accuracy</th>" }
        if has.eta { head += "<th class=\"num\">η</th>" }
        head += "<th class=\"num\">seconds</th>"
        h += "<table class=\"data history\" id=\"history-table\"><thead><tr>\(head)</tr></thead><tbody>\n"
        func cost(_ m: SplitMetrics?) -> String { m?.cost.map { String(format: "%.4f", $0) } ?? "–" }
        func acc(_ m: SplitMetrics?) -> String {
            guard let m, let c = m.correct else { return "–" }
            return "\(percent(c, m.total)) <span class=\"count\">\(groupedCount(c))</span>"
        }
        for e in epochs {
            h += "<tr\(e.epoch == best ? " class=\"best\"" : "")><td class=\"num\">\(e.epoch)\(e.epoch == best ? " ★" : "")</td>"
            if has.trainCost { h += "<td class=\"num\">\(cost(e.training))</td>" }
            if has.trainAcc { h += "<td class=\"num\">\(acc(e.training))</td>" }
            if has.evalCost { h += "<td class=\"num\">\(cost(e.evaluation))</td>" }
            if has.evalAcc { h += "<td class=\"num\">\(acc(e.evaluation))</td>" }
            if has.testAcc { h += "<td class=\"num\">\(acc(e.test))</td>" }
            if has.eta { h += "<td class=\"num\">\(e.eta.map { String(format: "%g", $0) } ?? "–")</td>" }
            h += "<td class=\"num\">\(decimal(e.seconds, e.seconds < 1 ? 3 : 2))</td></tr>\n"
        }
        h += "</tbody></table>\n"
        if best != nil { h += "<p class=\"note\">★ the best \(evalName) accuracy (the earliest on ties). Seconds: the SGD pass, without monitoring.</p>\n" }
        return h + "</section>\n"
    }

    // MARK: - Confusion matrix

    func confusionSection() -> String {
        let labels = test.classLabels
        let k = labels.count
        var h = "<section id=\"confusion-matrix\"><h2>Confusion matrix</h2>\n"
        h += "<p class=\"note\">The \(groupedCount(test.total)) MNIST test images, run now through the model as <code>nnrt eval</code> does. "
        h += "Rows: the true digit; columns: the model's answer. The diagonal (green) is right; errors are red, darker for more.</p>\n"
        let maxOff = (0..<k).flatMap { i in (0..<k).filter { $0 != i }.map { test.confusion[i][$0] } }.max() ?? 0
        h += "<div class=\"scroll\"><table class=\"confusion\" id=\"confusion-table\"><thead><tr><th class=\"corner\">true ↓ · answer →</th>"
        for l in labels { h += "<th>\(htmlEscaped(l))</th>" }
        h += "<th class=\"sum\">total</th><th class=\"sum\">recall</th></tr></thead><tbody>\n"
        var columnTotals = [Int](repeating: 0, count: k)
        for i in 0..<k {
            let row = test.confusion[i]
            let total = row.reduce(0, +)
            h += "<tr><th>\(htmlEscaped(labels[i]))</th>"
            for j in 0..<k {
                let count = row[j]
                columnTotals[j] += count
                var style = ""
                var cls = i == j ? "diag" : "off"
                if count == 0 {
                    cls += " zero"
                } else if i == j {
                    let a = 0.25 + 0.6 * Double(count) / Double(max(total, 1))
                    style = "background:rgba(30,158,90,\(decimal(a, 3)));color:\(a > 0.55 ? "#fff" : "#10331f")"
                } else {
                    let a = 0.1 + 0.8 * Double(count) / Double(max(maxOff, 1))
                    style = "background:rgba(217,56,56,\(decimal(a, 3)));color:\(a > 0.55 ? "#fff" : "#5a1010")"
                }
                h += "<td class=\"\(cls)\" data-true=\"\(i)\" data-predicted=\"\(j)\" data-count=\"\(count)\""
                h += style.isEmpty ? "" : " style=\"\(style)\""
                h += " title=\"true \(htmlEscaped(labels[i])), answered \(htmlEscaped(labels[j])): \(count)\">\(count)</td>"
            }
            let recall = total > 0 ? decimal(100 * Double(row[i]) / Double(total), 1) + "%" : "–"
            h += "<td class=\"sum\">\(groupedCount(total))</td><td class=\"sum\">\(recall)</td></tr>\n"
        }
        h += "<tr class=\"precision\"><th>precision</th>"
        for j in 0..<k {
            h += "<td class=\"sum\">\(columnTotals[j] > 0 ? decimal(100 * Double(test.confusion[j][j]) / Double(columnTotals[j]), 1) + "%" : "–")</td>"
        }
        h += "<td class=\"sum\">\(groupedCount(test.total))</td><td class=\"sum\"></td></tr>\n"
        h += "</tbody></table></div>\n"
        // The most frequent confusions.
        var pairs: [(i: Int, j: Int, count: Int)] = []
        for i in 0..<k { for j in 0..<k where i != j && test.confusion[i][j] > 0 { pairs.append((i, j, test.confusion[i][j])) } }
        pairs.sort { $0.count != $1.count ? $0.count > $1.count : ($0.i, $0.j) < ($1.i, $1.j) }
        if !pairs.isEmpty {
            let top = pairs.prefix(5).map { "\(htmlEscaped(labels[$0.i])) read as \(htmlEscaped(labels[$0.j])) (\($0.count)×)" }
            h += "<p class=\"note\" id=\"top-confusions\">Most frequent errors: \(top.joined(separator: ", ")).</p>\n"
        }
        return h + "</section>\n"
    }

    // MARK: - Misclassified digits

    /// The mistakes the gallery shows: all of them in test-set order when there are at most
    /// `galleryLimit`, else the `galleryLimit` most confident ones, most confident first (ties in
    /// test-set order).
    var shownMistakes: [TestMeasurement.Mistake] {
        let all = test.mistakes
        guard all.count > input.galleryLimit else { return all }
        func key(_ m: TestMeasurement.Mistake) -> Float { m.confidence.isNaN ? -.infinity : m.confidence }
        let ranked = all.enumerated().sorted { a, b in
            key(a.element) != key(b.element) ? key(a.element) > key(b.element) : a.offset < b.offset
        }
        return ranked.prefix(max(input.galleryLimit, 0)).map(\.element)
    }

    func confidenceText(_ value: Float) -> String {
        guard value.isFinite, abs(value) < 1e6 else { return "–" }
        switch test.confidence {
        case .probability, .meanOutput(_, true): return trimmedDecimal(100 * Double(value), 1) + "%"
        case .output, .meanOutput(_, false): return String(format: "%.2f", value)
        case .votes(let members): return "\(Int((Double(value) * Double(members)).rounded()))/\(members) votes"
        }
    }

    var confidenceExplanation: String {
        switch test.confidence {
        case .probability: "the network's softmax probability for its answer"
        case .output: "the network's output for its answer (the activation of its output neuron, not a probability)"
        case .votes(let members): "how many of the \(members) members voted for the answer"
        case .meanOutput(let members, let softmax):
            softmax ? "the mean of the \(members) members' softmax probabilities for the answer"
                : "the mean of the \(members) members' outputs for the answer (not a probability)"
        }
    }

    func gallerySection() throws -> String {
        let all = test.mistakes
        var h = "<section id=\"misclassified\"><h2>Misclassified test digits <span class=\"count\">\(groupedCount(all.count))</span></h2>\n"
        guard !all.isEmpty else {
            return h + "<div class=\"missing\" id=\"no-mistakes\">The model classifies every test image correctly.</div></section>\n"
        }
        let shown = shownMistakes
        let which = shown.count == all.count
            ? "All \(groupedCount(all.count)) of them, in test-set order"
            : "The \(groupedCount(shown.count)) most confident of the \(groupedCount(all.count)), most confident first"
        h += "<p class=\"note\" id=\"gallery-note\">\(which). Under each digit: the true label (green), the model's answer (red), "
        h += "\(htmlEscaped(confidenceExplanation)), and the image's index in the test set. Digits are shown dark on light, "
        h += "scaled up ×3 from 28×28.</p>\n<div class=\"gallery\">\n"
        let labels = test.classLabels
        for m in shown {
            let truth = m.actual < labels.count ? labels[m.actual] : "\(m.actual)"
            let answer = m.predicted < labels.count ? labels[m.predicted] : "\(m.predicted)"
            let uri = try Self.digitPNG(m.pixels)
            h += "<figure class=\"digit\" data-index=\"\(m.index)\" data-true=\"\(htmlEscaped(truth))\" data-predicted=\"\(htmlEscaped(answer))\">"
            h += "<img src=\"\(uri)\" width=\"84\" height=\"84\" alt=\"test image \(m.index): a \(htmlEscaped(truth)), answered \(htmlEscaped(answer))\">"
            h += "<figcaption><span class=\"truth\">\(htmlEscaped(truth))</span> → <span class=\"pred\">\(htmlEscaped(answer))</span> "
            h += "<span class=\"conf\">\(confidenceText(m.confidence))</span><br><span class=\"idx\">#\(m.index)</span></figcaption></figure>\n"
        }
        h += "</div>\n"
        if shown.count < all.count {
            h += "<p class=\"note more\">\(groupedCount(all.count - shown.count)) more misclassified digits are not shown.</p>\n"
        }
        return h + "</section>\n"
    }

    /// A 28x28 MNIST image (light on dark) as a data: URI of a grey PNG, dark on light.
    static func digitPNG(_ pixels: [UInt8]) throws -> String {
        guard pixels.count == 28 * 28,
              let image = RawImage(width: 28, height: 28, layout: .grey, maxValue: 255, samples: .eightBit(pixels.map { 255 - $0 }))
        else {
            throw CLIError("internal error: a test image has \(pixels.count) pixels, not 28x28", status: Exit.software)
        }
        do {
            let png = try encodePNG(image)
            return "data:image/png;base64," + Data(png).base64EncodedString()
        } catch {
            throw CLIError("internal error: cannot encode a test image as PNG: \(error)", status: Exit.software)
        }
    }

    func footer() -> String {
        var h = "<footer id=\"report-footer\"><p>Made by nnrt \(NNRTVersion.string) on \(htmlEscaped(input.generatedAt)) "
        h += "from <code>\(htmlEscaped(input.modelPath))</code> and the test images <code>\(htmlEscaped(test.dataSource))</code>. "
        h += "The curves, gradient norms and history are the figures the model file recorded while it trained; the accuracies, "
        h += "confusion matrix and misclassified digits were measured when this page was made.</p></footer>\n"
        return h
    }

    // MARK: - Helpers

    /// The epoch with the best evaluation accuracy, the earliest on ties (as the trainer picks it).
    static func bestEpoch(_ epochs: [EpochMetrics]) -> EpochMetrics? {
        var best: EpochMetrics? = nil
        for e in epochs {
            guard let c = e.evaluation?.correct else { continue }
            if best?.evaluation?.correct.map({ c > $0 }) ?? true { best = e }
        }
        return best
    }

    /// The test figures at the best epoch: monitored alongside validation data, or the evaluation
    /// itself when the evaluation data was the test set.
    static func testAtBest(_ best: EpochMetrics, _ p: Provenance?) -> SplitMetrics? {
        best.test ?? (p.map { $0.evaluationSplit.hasPrefix("t10k") } == true ? best.evaluation : nil)
    }

    /// "test" for t10k, "validation" for train[...], "evaluation" when unknown.
    static func evaluationName(_ p: Provenance?) -> String {
        guard let split = p?.evaluationSplit, !split.isEmpty else { return "evaluation" }
        return split.hasPrefix("t10k") ? "test" : "validation"
    }

    static func architectureText(_ n: NetworkModel) -> String {
        if let a = n.provenance?.hyperparameters?.architecture, !a.isEmpty { return a }
        return "[" + n.sizes.map(String.init).joined(separator: ", ") + "]"
    }

    static func keyValues(_ rows: [(String, String)]) -> String {
        // Values may break after their commas (long layer specs) and keep flags whole.
        "<dl class=\"kv\">" + rows.map { "<dt>\(htmlEscaped($0.0))</dt><dd>\(noteHTML($0.1).replacingOccurrences(of: ",", with: ",<wbr>"))</dd>" }.joined()
            + "</dl>\n"
    }

    /// "95.42%".
    func percent(_ correct: Int, _ total: Int) -> String {
        total > 0 ? decimal(100 * Double(correct) / Double(total), 2) + "%" : "–"
    }

    /// "12.3 s", "4 min 05 s", "2 h 03 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        if seconds >= 1e9 { return String(format: "%.3g s", seconds) }
        if seconds < 60 { return decimal(seconds, 1) + " s" }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }
}

/// `value` with at most `digits` decimals, trailing zeros dropped: 95.5, 96, 95.42.
func trimmedDecimal(_ value: Double, _ digits: Int) -> String {
    var text = decimal(value, digits)
    if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
}

extension ReportPage {
    static let css = """
        :root{--ink:#1d2330;--muted:#5b6475;--line:#e3e7ee;--card:#f6f8fb;--accent:#2f6fdb;--good:#1e9e5a;--bad:#d93838}
        *{box-sizing:border-box}
        html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
        body{margin:0;background:#fff;color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
        main{max-width:1100px;margin:0 auto;padding:32px 32px 40px}
        code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace}
        code{font-size:12.5px;background:#f1f4f8;border-radius:4px;padding:1px 5px;word-break:break-all}
        code.flag{font-size:12px;white-space:nowrap;word-break:normal;padding:0 3px}
        header.top{border-bottom:1px solid var(--line);padding-bottom:16px;margin-bottom:20px}
        .kicker{text-transform:uppercase;letter-spacing:.09em;font-size:11px;font-weight:700;color:var(--accent)}
        h1{font-size:28px;line-height:1.2;margin:4px 0 10px;letter-spacing:-.01em;word-break:break-word}
        h2{font-size:17px;margin:30px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
        h2 .count{font-weight:500;color:var(--muted);font-size:14px;margin-left:6px}
        h3{font-size:14px;margin:16px 0 6px}
        .badges span{display:inline-block;padding:2px 10px;margin:0 6px 6px 0;border-radius:999px;background:#edf2fc;color:#244a94;font-size:12px;font-weight:500}
        .path{margin:6px 0 0;color:var(--muted);font-size:12.5px}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
        .card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;break-inside:avoid}
        .card .label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:650}
        .card .value{font-size:25px;font-weight:700;font-variant-numeric:tabular-nums;margin:2px 0}
        .card .sub{font-size:12px;color:var(--muted);line-height:1.35}
        #card-test-accuracy .value{color:var(--good)}
        pre.command{margin:12px 0 0;background:#111827;color:#e5e7eb;padding:10px 14px;border-radius:8px;white-space:pre-wrap;word-break:break-all;font-size:12.5px;line-height:1.5}
        dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 22px;margin:0}
        dl.kv dt{color:var(--muted)}
        dl.kv dd{margin:0;word-break:break-word}
        table{border-collapse:collapse;font-variant-numeric:tabular-nums}
        table.data{width:100%;font-size:13px}
        table.data th{font-weight:600;color:var(--muted);font-size:12px;text-align:left;border-bottom:1.5px solid #cfd6e1;padding:6px 8px}
        table.data td{border-bottom:1px solid var(--line);padding:5px 8px}
        table.data .num{text-align:right}
        table.data tr.total td{font-weight:650;border-top:1.5px solid #cfd6e1}
        table.history tr.best td{background:#f3effc;font-weight:600}
        table.history .count{color:var(--muted);font-size:11px;margin-left:4px}
        .grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px;align-items:start}
        .grid2.pair{gap:36px}
        .grid2 > section > h2{margin-top:30px}
        @media (max-width:900px){.grid2{grid-template-columns:1fr}}
        figure.chart{margin:0;border:1px solid var(--line);border-radius:10px;padding:10px 12px 8px;break-inside:avoid;background:#fff}
        figure.chart figcaption{font-weight:650;font-size:13.5px;margin-bottom:2px}
        figure.chart svg{display:block;width:100%;height:auto;font-family:inherit}
        .note{color:var(--muted);font-size:12.5px;margin:6px 0}
        .missing{border:1.5px dashed #c9d1de;border-radius:10px;padding:16px 18px;color:var(--muted);background:#fafbfd;font-size:13px;break-inside:avoid}
        .scroll{overflow-x:auto}
        table.confusion{margin:4px 0 8px;font-size:12.5px}
        table.confusion th{color:var(--muted);font-weight:600;padding:4px 8px;font-size:12px}
        table.confusion th.corner{font-weight:500;font-size:11px;text-align:left}
        table.confusion td{min-width:46px;height:32px;text-align:center;border:2px solid #fff;border-radius:4px}
        table.confusion td.zero{color:#c3c9d4;background:#f7f8fa}
        table.confusion td.sum{color:var(--muted);background:none;padding:0 8px}
        table.confusion tr.precision th{text-align:right}
        .gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(98px,1fr));gap:8px}
        figure.digit{margin:0;padding:6px 4px 5px;border:1px solid var(--line);border-radius:8px;text-align:center;background:#fff;break-inside:avoid}
        figure.digit img{display:block;width:84px;height:84px;margin:0 auto 4px;image-rendering:pixelated;image-rendering:crisp-edges;border-radius:3px}
        figure.digit figcaption{font-size:12.5px;line-height:1.3}
        .truth{color:var(--good);font-weight:700}
        .pred{color:var(--bad);font-weight:700}
        .conf{color:var(--ink);font-variant-numeric:tabular-nums}
        .idx{color:var(--muted);font-size:11px}
        footer{margin-top:36px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
        @page{size:A4;margin:12mm}
        @media print{main{max-width:none;padding:0}h2{break-after:avoid}.grid2{grid-template-columns:1fr 1fr}.gallery{grid-template-columns:repeat(8,1fr)}}
        """
}
