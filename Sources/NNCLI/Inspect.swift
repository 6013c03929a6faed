import ArgumentParser
import Foundation
import NNModel

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model file: layers, shapes, parameters, input contract, provenance.",
        discussion: """
            Reads and validates MODEL (a network or an ensemble) and prints what it holds: the \
            producer and format version, each member's layers as a table, the class labels, \
            how raw pixels are scaled, the hyper-parameters and per-epoch history it was trained \
            with, and any recorded evaluations.

            Example:
              nnrt inspect ch1.nnrt

            \(Exit.helpText)
            """
    )

    @Argument(help: "The model file to describe.")
    var model: String

    @Flag(name: .long, help: "Also list every epoch of the training history (default: first and last few).")
    var allEpochs = false

    func run() throws {
        try reportingErrors {
            let file = try loadModelFile(model)
            say(describe(file))
        }
    }

    func describe(_ file: ModelFile) -> String {
        var out: [String] = []
        out.append("model:          \(model)")
        out.append("format version: \(file.formatVersion)")
        out.append("producer:       \(file.producer.name) \(file.producer.version)")
        for (key, value) in file.metadata { out.append("metadata:       \(key) = \(value)") }
        switch file.body {
        case .network(let network):
            out.append("kind:           network")
            out.append(contentsOf: describe(network))
        case .ensemble(let ensemble):
            out.append("kind:           ensemble of \(ensemble.members.count) networks '\(ensemble.name)'")
            out.append("voting:         \(ensemble.voting.name)")
            for evaluation in ensemble.evaluations { out.append("evaluation:     \(describe(evaluation))") }
            for (i, member) in ensemble.members.enumerated() {
                out.append("")
                out.append("member \(i + 1):")
                out.append(contentsOf: describe(member).map { "  " + $0 })
            }
        }
        return out.joined(separator: "\n")
    }

    func describe(_ evaluation: Evaluation) -> String {
        var text = evaluation.dataset + ": "
        if let correct = evaluation.metrics.correct {
            text += "accuracy " + accuracyText(correct: correct, total: evaluation.metrics.total)
        }
        if let cost = evaluation.metrics.cost { text += String(format: ", cost %.4f", cost) }
        return text
    }

    func describe(_ network: NetworkModel) -> [String] {
        var out: [String] = []
        out.append("name:           \(network.name)")
        out.append("sizes:          [\(network.sizes.map(String.init).joined(separator: ", "))]")
        out.append("cost:           \(network.cost.name)")
        out.append("classes:        \(network.classLabels.count) (\(network.classLabels.joined(separator: " ")))")
        let input = network.input
        let polarity = input.polarity == .lightOnDark ? "light digit on dark" : "dark digit on light"
        out.append("input:          \(input.shape.map(String.init).joined(separator: "x")) (channels x height x width), "
                   + "pixel * \(formatScale(input.scale)) + \(input.offset), \(polarity)")
        out.append("")
        var rows: [[String]] = [["#", "layer", "kind", "input", "output", "activation", "weights", "bias", "parameters"]]
        for (i, layer) in network.layers.enumerated() {
            rows.append([
                "\(i + 1)", layer.name, "dense",
                layer.inputShape.map(String.init).joined(separator: "x"),
                layer.outputShape.map(String.init).joined(separator: "x"),
                layer.activation.name,
                layer.weights.shape.map(String.init).joined(separator: "x"),
                layer.bias.shape.map(String.init).joined(separator: "x"),
                "\(layer.weights.data.count + layer.bias.data.count)",
            ])
        }
        rows.append(["", "total", "", "", "", "", "", "", "\(network.parameterCount)"])
        out.append(contentsOf: table(rows, rightAlign: [0, 8]).split(separator: "\n").map(String.init))
        for evaluation in network.evaluations { out.append("evaluation:     \(describe(evaluation))") }
        if let p = network.provenance {
            out.append("")
            out.append("provenance:")
            if !p.importedFrom.isEmpty { out.append("  imported from: \(p.importedFrom)") }
            if !p.dataset.isEmpty {
                out.append("  dataset:       \(p.dataset) (training \(p.trainingSplit), evaluation \(p.evaluationSplit))")
            }
            if !p.preset.isEmpty { out.append("  preset:        \(p.preset)") }
            if let h = p.hyperparameters {
                out.append(String(format: "  training:      eta %g, lambda %g, mini-batch %d, %d epochs, n = %d",
                                  h.eta, h.lambda, h.miniBatchSize, h.epochs, h.trainingExamples))
                out.append("  init:          \(h.weightInit.name), seed \(p.seed)")
            }
            if !p.createdAt.isEmpty { out.append("  created:       \(p.createdAt)") }
            if !p.command.isEmpty { out.append("  command:       \(p.command)") }
            if !p.epochs.isEmpty {
                out.append("")
                out.append(contentsOf: epochTable(p.epochs))
            }
        }
        return out
    }

    func epochTable(_ epochs: [EpochMetrics]) -> [String] {
        var rows: [[String]] = [["epoch", "train cost", "train acc", "eval cost", "eval acc", "seconds"]]
        func cost(_ m: SplitMetrics?) -> String { m?.cost.map { String(format: "%.4f", $0) } ?? "-" }
        func acc(_ m: SplitMetrics?) -> String {
            guard let m, let c = m.correct else { return "-" }
            return String(format: "%.2f%%", 100 * Double(c) / Double(max(m.total, 1)))
        }
        var shown = epochs.enumerated().map { $0 }
        var elided = false
        if !allEpochs, epochs.count > 12 {
            shown = Array(shown.prefix(5)) + Array(shown.suffix(5))
            elided = true
        }
        for (i, e) in shown {
            if elided, i == epochs.count - 5 { rows.append(["...", "", "", "", "", ""]) }
            rows.append(["\(e.epoch)", cost(e.training), acc(e.training), cost(e.evaluation), acc(e.evaluation),
                         String(format: "%.2f", e.seconds)])
        }
        return table(rows, rightAlign: [0, 1, 2, 3, 4, 5]).split(separator: "\n").map(String.init)
    }

    func formatScale(_ s: Float) -> String {
        if abs(s - 1.0 / 255.0) < 1e-9 { return "1/255" }
        return "\(s)"
    }
}
