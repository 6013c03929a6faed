import ArgumentParser
import Foundation
import NNModel
import NNTrainer

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model file (or a training checkpoint): layers, shapes, parameters, input contract, provenance.",
        discussion: """
            Reads and validates MODEL (a network or an ensemble) and prints what it holds: the \
            producer and format version, each member's layers as a table, the class labels, \
            how raw pixels are scaled, the SHA-256 of the weights (equal digests: the same \
            weights, bit for bit), the hyper-parameters and per-epoch history it was trained \
            with, and any recorded evaluations.

            Given a checkpoint of `nnrt train --checkpoint` (MODEL.checkpoint), it checks the whole \
            file (CRC-32 and every section) and describes the interrupted run: where it stopped \
            (between epochs or within one), its network and history so far.

            --quiet prints nothing: the exit status says whether the file is valid (0) or not \
            (65, 66). --json prints the description as one JSON object (the weights themselves \
            left out): {"format_version", "producer", "metadata", and "network" or "ensemble"}; \
            a network has "name", "cost", "class_labels", "input", "parameters", "mult_adds", \
            "weights_sha256", "layers", "evaluations" and "provenance". For a checkpoint: \
            {"checkpoint", "network"}.

            Example:
              nnrt inspect ch1.nnrt
              nnrt inspect big.nnrt.checkpoint

            \(Exit.helpText)
            """
    )

    @Argument(help: "The model file (or checkpoint) to describe.", completion: .file())
    var model: String

    @Flag(name: .long, help: "Also list every epoch of the training history (default: first and last few).")
    var allEpochs = false

    @Flag(help: "Print the description as one JSON object (for scripts), without the weights.")
    var json = false

    @Flag(name: [.customShort("q"), .long], help: "Print nothing; only check the file (exit status 0 if it is valid).")
    var quiet = false

    func run() throws {
        try reportingErrors {
            if isCheckpointFile(model) {
                let checkpoint: Checkpoint
                do { checkpoint = try Checkpoint.read(path: model) } catch { throw CLIError(any: error) }
                if quiet && !json { return }
                if json {
                    let data = try JSONSerialization.data(withJSONObject: ModelJSON.object(checkpoint), options: [.sortedKeys])
                    say(String(decoding: data, as: UTF8.self))
                } else {
                    say(describe(checkpoint))
                }
                return
            }
            let file = try loadModelFile(model)
            if quiet && !json { return }
            if json {
                let data = try JSONSerialization.data(withJSONObject: ModelJSON.object(file), options: [.sortedKeys])
                say(String(decoding: data, as: UTF8.self))
            } else {
                say(describe(file))
            }
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
            let parameters = ensemble.members.reduce(0) { $0 + $1.parameterCount }
            let multAdds = ensemble.members.reduce(0) { sum, m in sum + m.layers.reduce(0) { $0 + ModelJSON.multiplyAdds($1) } }
            out.append("total:          \(groupedCount(parameters)) parameters in \(ensemble.members.count) members "
                       + "(\(byteSize(parameters * MemoryLayout<Float>.stride)) of float32), \(groupedCount(multAdds)) multiply-adds per image")
            for evaluation in ensemble.evaluations { out.append("evaluation:     \(describe(evaluation))") }
            for (i, member) in ensemble.members.enumerated() {
                out.append("")
                out.append("member \(i + 1):")
                out.append(contentsOf: describe(member).map { "  " + $0 })
            }
        }
        return out.joined(separator: "\n")
    }

    /// True if `path` starts with the checkpoint magic "NNRTCKPT".
    func isCheckpointFile(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: Checkpoint.magic.count)) ?? Data()
        return Array(head) == Checkpoint.magic
    }

    func describe(_ checkpoint: Checkpoint) -> String {
        let c = checkpoint.config
        var out: [String] = []
        out.append("checkpoint:     \(model)")
        out.append("format version: \(checkpoint.formatVersion)")
        out.append("state:          " + ModelJSON.stateText(checkpoint))
        out.append(String(format: "settings:       eta %g, %@ lambda %g, mini-batch %d, %d epochs, seed %@%@",
                          c.eta, c.regularization.name, c.lambda, c.miniBatchSize, c.epochs, "\(c.seed)",
                          c.expansion.isEmpty ? "" : ", expanded by \(c.expansion)"))
        if !checkpoint.command.isEmpty { out.append("started by:     \(checkpoint.command)") }
        if let output = ModelJSON.outputPath(checkpointPath: model) {
            out.append("continue with:  nnrt train --resume --out \(shellQuoted(output))")
        }
        out.append(contentsOf: describe(ModelJSON.model(checkpoint)))
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
        out.append("images:         " + ModelJSON.imageDescription(input))
        out.append("weights:        sha256 " + ModelJSON.weightsDigest(network))
        out.append("")
        // The model summary: one row per layer (the input first), its output shape, weights,
        // parameters and multiply-adds per image, then the totals.
        func dims(_ shape: [Int]) -> String { shape.isEmpty ? "-" : shape.map(String.init).joined(separator: "x") }
        let withDropout = network.layers.contains { $0.dropout > 0 }
        var header = ["#", "layer", "type", "output", "activation", "weights"]
        if withDropout { header.append("dropout") }
        header += ["parameters", "mult-adds"]
        var rows: [[String]] = [header]
        var inputRow = ["0", "input", "", dims(network.input.shape), "", ""]
        if withDropout { inputRow.append("") }
        rows.append(inputRow + ["", ""])
        var totalMultAdds = 0
        for (i, layer) in network.layers.enumerated() {
            let multAdds = ModelJSON.multiplyAdds(layer)
            totalMultAdds += multAdds
            var row = [
                "\(i + 1)", layer.name, layer.kind.name, dims(layer.outputShape),
                layer.activation.name,
                layer.kind == .maxPool2d ? "pool " + dims(layer.poolShape) : dims(layer.weights.shape),
            ]
            if withDropout { row.append(layer.dropout > 0 ? "\(layer.dropout)" : "") }
            row += [groupedCount(layer.weights.data.count + layer.bias.data.count), groupedCount(multAdds)]
            rows.append(row)
        }
        let columns = header.count
        out.append(contentsOf: table(rows, rightAlign: [0, columns - 2, columns - 1]).split(separator: "\n").map(String.init))
        let size = byteSize(network.parameterCount * MemoryLayout<Float>.stride)
        out.append("total:          \(groupedCount(network.parameterCount)) parameters (\(size) of float32), "
                   + "\(groupedCount(totalMultAdds)) multiply-adds per image, \(network.layers.count) layers")
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
                if !h.architecture.isEmpty { out.append("  architecture:  \(h.architecture)") }
                out.append(String(format: "  training:      eta %g, %@ lambda %g, mini-batch %d, %d epochs, n = %d",
                                  h.eta, h.regularization.name, h.lambda, h.miniBatchSize, h.epochs, h.trainingExamples))
                var extras: [String] = []
                if h.momentum != 0 { extras.append(String(format: "momentum %g", h.momentum)) }
                if h.schedulePatience > 0 {
                    extras.append(String(format: "eta / %g after %d epochs without improvement, stop below %g of the start",
                                         h.scheduleFactor, h.schedulePatience, h.scheduleStopFraction))
                }
                if h.earlyStoppingPatience > 0 { extras.append("early stopping after \(h.earlyStoppingPatience) epochs without improvement") }
                if !h.expansion.isEmpty { extras.append("training data expanded: \(h.expansion)") }
                for e in extras { out.append("                 \(e)") }
                out.append("  init:          \(h.weightInit.name), seed \(p.seed)")
            }
            if let selected = p.selectedEpoch { out.append("  weights from:  epoch \(selected) (best evaluation accuracy)") }
            if !p.initialGradientNorms.isEmpty {
                out.append("  gradient norms at initialisation (||dC/db|| per layer): " + norms(p.initialGradientNorms))
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

    /// "93.2 KiB", "6.4 MiB".
    func byteSize(_ bytes: Int) -> String {
        let b = Double(bytes)
        return b >= 1_048_576 ? String(format: "%.1f MiB", b / 1_048_576) : String(format: "%.1f KiB", b / 1024)
    }

    func norms(_ values: [Double]) -> String {
        values.map { String(format: "%.4g", $0) }.joined(separator: " ")
    }

    func epochTable(_ epochs: [EpochMetrics]) -> [String] {
        let withTest = epochs.contains { $0.test != nil }
        let withEta = epochs.contains { $0.eta != nil }
        let withNorms = epochs.contains { !$0.gradientNorms.isEmpty }
        var header = ["epoch", "train cost", "train acc", "eval cost", "eval acc"]
        if withTest { header.append("test acc") }
        if withEta { header.append("eta") }
        header.append("seconds")
        if withNorms { header.append("gradient norms") }
        var rows: [[String]] = [header]
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
            if elided, i == epochs.count - 5 { rows.append(["..."] + Array(repeating: "", count: header.count - 1)) }
            var row = ["\(e.epoch)", cost(e.training), acc(e.training), cost(e.evaluation), acc(e.evaluation)]
            if withTest { row.append(acc(e.test)) }
            if withEta { row.append(e.eta.map { String(format: "%g", $0) } ?? "-") }
            row.append(String(format: "%.2f", e.seconds))
            if withNorms { row.append(norms(e.gradientNorms)) }
            rows.append(row)
        }
        return table(rows, rightAlign: Set(0..<(header.count - (withNorms ? 1 : 0)))).split(separator: "\n").map(String.init)
    }

    func formatScale(_ s: Float) -> String {
        if abs(s - 1.0 / 255.0) < 1e-9 { return "1/255" }
        return "\(s)"
    }
}

/// The JSON form of `nnrt inspect --json`: everything in the file except the weight values (of
/// which it gives the SHA-256).
enum ModelJSON {
    /// The SHA-256 (hex) of a network's weights and biases: each layer's weights then its
    /// biases, in layer order, as little-endian IEEE 754 single-precision values. Two models
    /// with the same digest compute the same function, bit for bit.
    static func weightsDigest(_ n: NetworkModel) -> String {
        var hash = SHA256()
        for layer in n.layers {
            for values in [layer.weights.data, layer.bias.data] {
                var bytes = [UInt8]()
                bytes.reserveCapacity(values.count * 4)
                for v in values {
                    let bits = v.bitPattern
                    bytes.append(UInt8(truncatingIfNeeded: bits))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
                }
                hash.update(bytes)
            }
        }
        return SHA256.hex(hash.finalize())
    }

    /// Multiply-adds of one layer per example: a dense layer's weights, a convolution's weights
    /// per output map times the output values; 0 for pooling.
    static func multiplyAdds(_ layer: Layer) -> Int {
        switch layer.kind {
        case .dense: return layer.weights.data.count
        case .conv2d:
            let maps = layer.weights.shape.first ?? 1
            return layer.outputShape.reduce(1, *) * (layer.weights.data.count / max(maps, 1))
        case .maxPool2d: return 0
        }
    }

    /// The network a checkpoint holds, as a model with its history so far.
    static func model(_ checkpoint: Checkpoint) -> NetworkModel {
        var provenance = Provenance()
        provenance.seed = checkpoint.config.seed
        provenance.command = checkpoint.command
        provenance.preset = checkpoint.config.preset ?? ""
        return checkpoint.network.model(name: "checkpoint", provenance: provenance)
    }

    /// "epoch 4 of 30 in progress: 1200 of 5000 mini-batches done", "2 of 30 epochs done", ...
    static func stateText(_ checkpoint: Checkpoint) -> String {
        let total = checkpoint.config.epochs
        if let p = checkpoint.positionInEpoch {
            return "within an epoch: epoch \(p.epoch) (\(checkpoint.epochsDone + 1) of \(total) of this run), "
                + "\(p.miniBatchesDone) of \(p.miniBatchesTotal) mini-batches done"
        }
        if checkpoint.isFinished { return "finished: \(checkpoint.epochsDone) of \(total) epochs done (resuming writes the model)" }
        return "between epochs: \(checkpoint.epochsDone) of \(total) epochs done"
    }

    /// The model file a checkpoint belongs to: "M" for "M.checkpoint" or "M.checkpoint.memberK".
    static func outputPath(checkpointPath path: String) -> String? {
        if path.hasSuffix(".checkpoint") { return String(path.dropLast(".checkpoint".count)) }
        if let range = path.range(of: ".checkpoint.member", options: .backwards),
           !path[range.upperBound...].isEmpty, path[range.upperBound...].allSatisfy(\.isNumber) {
            return String(path[..<range.lowerBound])
        }
        return nil
    }

    /// `nnrt inspect --json` of a checkpoint.
    static func object(_ checkpoint: Checkpoint) -> [String: Any] {
        let position: Any = checkpoint.positionInEpoch.map { p -> Any in
            ["epoch": p.epoch, "mini_batches_done": p.miniBatchesDone, "mini_batches_total": p.miniBatchesTotal]
        } ?? NSNull()
        return [
            "checkpoint": [
                "format_version": Int(checkpoint.formatVersion),
                "epochs_done": checkpoint.epochsDone,
                "epochs": checkpoint.config.epochs,
                "finished": checkpoint.isFinished,
                "position_in_epoch": position,
                "seed": checkpoint.config.seed,
                "command": checkpoint.command,
            ] as [String: Any],
            "network": network(model(checkpoint)),
        ]
    }

    static func object(_ file: ModelFile) -> [String: Any] {
        var o: [String: Any] = [
            "format_version": Int(file.formatVersion),
            "producer": ["name": file.producer.name, "version": file.producer.version],
            "metadata": file.metadata.map { ["key": $0.key, "value": $0.value] },
        ]
        switch file.body {
        case .network(let n):
            o["network"] = network(n)
        case .ensemble(let e):
            o["ensemble"] = [
                "name": e.name, "voting": e.voting.name,
                "members": e.members.map(network), "evaluations": e.evaluations.map(evaluation),
            ] as [String: Any]
        }
        return o
    }

    /// How the model turns image files into its input, in words.
    static func imageDescription(_ input: InputContract) -> String {
        guard let image = input.effectiveImage, let plane = input.greyPlane else {
            return "not accepted (no image normalisation for this input shape)"
        }
        let centre = image.centring == .centreOfMass ? "centre of mass" : "bounding box"
        let field = "\(plane.height)x\(plane.width)"
        return "MNIST digit: cropped to the ink, scaled to fit \(image.boxSize)x\(image.boxSize), \(centre) centred in \(field)"
            + (input.image == nil ? " (not stated in the file: MNIST's default)" : "")
    }

    static func imageJSON(_ input: InputContract) -> Any {
        guard let image = input.effectiveImage else { return NSNull() }
        return ["method": "mnist-digit", "box_size": image.boxSize,
                "centring": image.centring == .centreOfMass ? "centre-of-mass" : "bounding-box",
                "stated": input.image != nil] as [String: Any]
    }

    static func network(_ n: NetworkModel) -> [String: Any] {
        var o: [String: Any] = [
            "name": n.name,
            "cost": n.cost.name,
            "class_labels": n.classLabels,
            "input": ["shape": n.input.shape, "scale": Double(n.input.scale), "offset": Double(n.input.offset),
                      "polarity": n.input.polarity == .lightOnDark ? "light-on-dark" : "dark-on-light",
                      "image": imageJSON(n.input)] as [String: Any],
            "parameters": n.parameterCount,
            "mult_adds": n.layers.reduce(0) { $0 + multiplyAdds($1) },
            "weights_sha256": weightsDigest(n),
            "layers": n.layers.map { l -> [String: Any] in
                var layer: [String: Any] = [
                    "name": l.name, "kind": l.kind.name, "activation": l.activation.name,
                    "input_shape": l.inputShape, "output_shape": l.outputShape,
                    "weights_shape": l.weights.shape, "bias_shape": l.bias.shape,
                ]
                layer["parameters"] = l.weights.data.count + l.bias.data.count
                layer["mult_adds"] = multiplyAdds(l)
                if !l.poolShape.isEmpty { layer["pool_shape"] = l.poolShape }
                if l.dropout != 0 { layer["dropout"] = Double(l.dropout) }
                return layer
            },
            "evaluations": n.evaluations.map(evaluation),
        ]
        if let p = n.provenance { o["provenance"] = provenance(p) }
        return o
    }

    static func metrics(_ m: SplitMetrics?) -> Any {
        guard let m else { return NSNull() }
        var o: [String: Any] = ["total": m.total]
        if let c = m.correct { o["correct"] = c }
        if let c = m.cost { o["cost"] = c }
        return o
    }

    static func evaluation(_ e: Evaluation) -> [String: Any] {
        ["dataset": e.dataset, "metrics": metrics(e.metrics)]
    }

    static func provenance(_ p: Provenance) -> [String: Any] {
        var o: [String: Any] = [
            "dataset": p.dataset, "training_split": p.trainingSplit, "evaluation_split": p.evaluationSplit,
            "seed": p.seed, "created_at": p.createdAt, "command": p.command, "preset": p.preset,
            "imported_from": p.importedFrom, "initial_gradient_norms": p.initialGradientNorms,
            "epochs": p.epochs.map { e -> [String: Any] in
                var o: [String: Any] = [
                    "epoch": e.epoch, "seconds": e.seconds, "training": metrics(e.training),
                    "evaluation": metrics(e.evaluation), "test": metrics(e.test), "gradient_norms": e.gradientNorms,
                ]
                if let eta = e.eta { o["eta"] = eta }
                return o
            },
        ]
        if let s = p.selectedEpoch { o["selected_epoch"] = s }
        if let h = p.hyperparameters {
            o["hyperparameters"] = [
                "sizes": h.sizes, "cost": h.cost.name, "eta": h.eta, "lambda": h.lambda,
                "regularization": h.regularization.name, "mini_batch_size": h.miniBatchSize, "epochs": h.epochs,
                "weight_init": h.weightInit.name, "training_examples": h.trainingExamples, "momentum": h.momentum,
                "schedule_patience": h.schedulePatience, "schedule_factor": h.scheduleFactor,
                "schedule_stop_fraction": h.scheduleStopFraction, "early_stopping_patience": h.earlyStoppingPatience,
                "expansion": h.expansion, "architecture": h.architecture,
            ] as [String: Any]
        }
        return o
    }
}
