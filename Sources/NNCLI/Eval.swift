import ArgumentParser
import Foundation
import NNModel
import NNRuntime
import NNTrainer

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's accuracy on the MNIST test set, with a confusion matrix.",
        discussion: """
            Runs MODEL (a network or an ensemble, which votes by its own rule) through the same \
            runtime code as libnnrt, from the raw test pixels scaled by the model's input \
            contract, so its predictions are exactly those a C or Python caller gets. Prints the \
            confusion matrix (rows: true digit, columns: predicted), the time taken and, as its \
            last line, `accuracy: 95.42% (9542/10000)`. On a terminal a progress bar shows while \
            it runs (for models slow enough to need one).

            --quiet prints only the accuracy line. --json prints one object: {"model", "kind" \
            ("network" or "ensemble"), "members", "voting" (null for a network), "images", \
            "correct", "accuracy" (a fraction), "class_labels", "confusion" (rows: true class, \
            columns: predicted), "recall" (per class, null for a class without images), \
            "seconds", "images_per_second"}.

            Examples:
              nnrt eval ch1.nnrt
              nnrt eval ch1.nnrt --data ~/mnist --labels-out predictions.txt
              nnrt eval ch1.nnrt --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'

            \(Exit.helpText)
            """
    )

    @Argument(help: "The model file.", completion: .file(extensions: ["nnrt"]))
    var model: String

    @Option(help: "MNIST directory (default: $MNIST_DIR, else the download cache).", completion: .directory)
    var data: String?

    @Option(parsing: .unconditional, help: "Evaluate only the first N test images.")
    var limit: Int?

    @Option(help: "Write the predicted label of each image to this file, one per line.", completion: .file())
    var labelsOut: String?

    @Flag(name: [.customShort("q"), .long], help: "No progress bar and no table: print only the accuracy line.")
    var quiet = false

    @Flag(help: "Print the results as one JSON object (fields above) instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            if let limit, limit <= 0 { throw CLIError("--limit must be positive, got \(limit)", status: Exit.usage) }
            if let labelsOut { try checkWritable(labelsOut, example: "labels.txt") }
            let file = try loadModelFile(model)
            let runtime: NNRuntime.Model
            do { runtime = try NNRuntime.Model(file: file) } catch { throw CLIError(any: error, path: model) }
            guard runtime.inputSize == 784 else {
                throw CLIError("\(model): takes \(runtime.inputSize) inputs per example; MNIST images have 784", status: Exit.dataError)
            }

            // The test images and labels, checked to agree (28x28 images, one label 0...9 each).
            let pixels: [UInt8]
            let labels: [UInt8]
            let paths: MNIST.Paths
            do {
                paths = try MNIST.locate(directory: data, log: { line in Console.note("nnrt: \(line)") })
                (pixels, labels) = try MNIST.readPair(images: paths.testImages, labels: paths.testLabels, limit: limit)
            } catch {
                throw CLIError(any: error)
            }
            let count = labels.count
            guard count > 0 else {
                throw CLIError("\(paths.testImages) holds no images: give the MNIST test set (10,000 images)", status: Exit.dataError)
            }

            // In chunks, for the progress bar: each image's result does not depend on the others
            // in its batch, so this predicts exactly what one call over all of them would.
            var predicted = [Int32](repeating: 0, count: count)
            let progress = ItemProgress(total: count, unit: "images", enabled: !quiet)
            let started = monotonicSeconds()
            let chunk = 1024
            do {
                try pixels.withUnsafeBufferPointer { p throws(ModelError) in
                    try predicted.withUnsafeMutableBufferPointer { l throws(ModelError) in
                        var start = 0
                        while start < count {
                            let n = min(chunk, count - start)
                            let size = runtime.inputSize
                            try runtime.predict(pixels: UnsafeBufferPointer(rebasing: p[(start * size)..<((start + n) * size)]), count: n,
                                                labels: UnsafeMutableBufferPointer(rebasing: l[start..<(start + n)]), outputs: nil)
                            start += n
                            progress.update(start)
                        }
                    }
                }
            } catch {
                progress.finish()
                throw CLIError(any: error, path: model)
            }
            let seconds = monotonicSeconds() - started
            progress.finish()

            let classes = runtime.classCount
            var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
            var correct = 0
            var predictedText: [String] = []
            predictedText.reserveCapacity(count)
            for i in 0..<count {
                let predicted = Int(predicted[i])
                let actual = Int(labels[i])
                if actual < classes { confusion[actual][predicted] += 1 }
                if runtime.classLabels[predicted] == String(actual) { correct += 1 }
                predictedText.append(runtime.classLabels[predicted])
            }
            if let labelsOut {
                let text = predictedText.joined(separator: "\n") + "\n"
                do {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: labelsOut), options: .atomic)
                } catch {
                    throw CLIError("cannot write \(labelsOut): \(error.localizedDescription)", status: Exit.cannotCreate)
                }
            }

            let rate = seconds > 0 ? Double(count) / seconds : 0
            if json {
                let recall: [JSON] = confusion.enumerated().map { i, row in
                    let total = row.reduce(0, +)
                    return total > 0 ? .double(Double(row[i]) / Double(total)) : .null
                }
                JSON.object([
                    ("model", .string(model)), ("kind", .string(runtime.members.count == 1 ? "network" : "ensemble")),
                    ("members", .int(runtime.members.count)),
                    ("voting", runtime.members.count == 1 ? .null : .string(runtime.voting.name)),
                    ("images", .int(count)), ("correct", .int(correct)), ("accuracy", .double(Double(correct) / Double(count))),
                    ("class_labels", .strings(runtime.classLabels)), ("confusion", .array(confusion.map(JSON.ints))),
                    ("recall", .array(recall)), ("seconds", .seconds(seconds)), ("images_per_second", .double(rate.rounded())),
                ]).emit()
                return
            }
            if quiet {
                say("accuracy: " + accuracyText(correct: correct, total: count))
                return
            }
            say("model: \(model) (\(runtime.members.count == 1 ? "network" : "ensemble of \(runtime.members.count), \(runtime.voting.name) vote"))")
            say("confusion matrix on \(count) MNIST test images (rows: true digit, columns: predicted):")
            var rows: [[String]] = [["", ] + runtime.classLabels + ["recall"]]
            for (i, row) in confusion.enumerated() {
                let total = row.reduce(0, +)
                let recall = total > 0 ? String(format: "%.1f%%", 100 * Double(row[i]) / Double(total)) : "-"
                rows.append([runtime.classLabels[i]] + row.map(String.init) + [recall])
            }
            say(table(rows, rightAlign: Set(0...(classes + 1))))
            say(String(format: "time: %.3f s, %@ images/s", seconds, groupedCount(Int(rate.rounded()))))
            say("accuracy: " + accuracyText(correct: correct, total: count))
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a network saved by the book's network2.py (JSON) into an nnrt model file.",
        discussion: """
            network2.py's `Network.save(filename)` writes JSON with `sizes`, `weights`, `biases` \
            and `cost` ("QuadraticCost" or "CrossEntropyCost"). This checks every shape and writes \
            an nnrt model (sigmoid dense layers, MNIST input contract, digit labels) that libnnrt \
            and every nnrt tool can run.

            --quiet prints nothing on success; --json prints one object: {"input", "output", \
            "sizes", "cost", "parameters"}.

            Example:
              nnrt import network2-saved.json --out net.nnrt

            \(Exit.helpText)
            """
    )

    @Argument(help: ArgumentHelp("The JSON file written by network2.py's save().", valueName: "json-file"),
              completion: .file(extensions: ["json"]))
    var source: String

    @Option(help: "Where to write the model file.", completion: .file(extensions: ["nnrt"]))
    var out: String

    @Option(help: "A name for the model (default: from the file name).")
    var name: String?

    @Flag(name: [.customShort("q"), .long], help: "Print nothing on success.")
    var quiet = false

    @Flag(help: "Print what was written as one JSON object (fields above).")
    var json = false

    func run() throws {
        try reportingErrors {
            let modelName = name ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            let network: NetworkModel
            do {
                network = try Network2JSON.importModel(path: source, name: modelName)
            } catch {
                throw CLIError(any: error)
            }
            try checkWritable(out)
            do {
                try writeModelFile(ModelFile(body: .network(network)), to: out)
            } catch {
                throw CLIError("cannot write \(out): \(error)", status: Exit.cannotCreate)
            }
            if json {
                JSON.object([("input", .string(source)), ("output", .string(out)), ("sizes", .ints(network.sizes)),
                             ("cost", .string(network.cost.name)), ("parameters", .int(network.parameterCount))]).emit()
                return
            }
            if quiet { return }
            say("imported \(source): sizes [\(network.sizes.map(String.init).joined(separator: ","))], \(network.cost.name) cost")
            say("wrote \(out)")
        }
    }
}

struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the book's experiments that `nnrt train --preset NAME` runs, with the book's figures.",
        discussion: """
            Prints a table of the presets (network, ensemble members, epochs, eta, lambda, cost \
            and the accuracy the book reports), then each one's description. --quiet prints \
            only the names, one per line; --json one object per line: {"name", "description", \
            "network", "members", "epochs", "book" (absent when the book gives no figure)}.

            \(Exit.helpText)
            """
    )

    @Flag(name: [.customShort("q"), .long], help: "Print only the preset names, one per line.")
    var quiet = false

    @Flag(help: "Print one JSON object per preset (fields above) for scripts.")
    var json = false

    /// The network a preset trains, as a layer spec or the book's sizes.
    static func network(_ c: TrainingConfig) -> String {
        if c.architecture == nil, c.activation == .sigmoid { return "[" + c.sizes.map(String.init).joined(separator: ",") + "]" }
        return (try? c.resolvedArchitecture().description) ?? c.architecture ?? "?"
    }

    func run() throws {
        if json {
            for p in NNTrainer.Presets.all {
                var o: [String: Any] = ["name": p.name, "description": p.description, "epochs": p.config.epochs,
                                        "network": Self.network(p.config), "members": p.ensembleMembers]
                if let figure = p.bookFigure { o["book"] = figure }
                let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
                say(String(decoding: data, as: UTF8.self))
            }
            return
        }
        if quiet {
            for p in NNTrainer.Presets.all { say(p.name) }
            return
        }
        var rows: [[String]] = [["preset", "network", "members", "epochs", "eta", "lambda", "cost", "book"]]
        for p in NNTrainer.Presets.all {
            let c = p.config
            rows.append([p.name, Self.network(c), p.ensembleMembers > 1 ? "\(p.ensembleMembers)" : "", "\(c.epochs)",
                         "\(c.eta)", "\(c.lambda)", c.cost.name, p.bookFigure ?? "-"])
        }
        say(table(rows))
        say("")
        for p in NNTrainer.Presets.all { say("\(p.name): \(p.description)") }
    }
}

struct Mnist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Fetch MNIST into the cache (verifying SHA-256) or check a copy; print where it is.",
        discussion: """
            With MNIST_DIR set (or --data), checks that the four files are there. Otherwise \
            downloads any missing file from the public mirrors (NNRT_MNIST_MIRRORS overrides the \
            list) into the cache (NNRT_CACHE_DIR, else $XDG_CACHE_HOME/nnrt/mnist, else \
            ~/.cache/nnrt/mnist), verifying each file's SHA-256 before it is used.

            Prints the four files' paths; --print-dir only their directory; --quiet nothing \
            (the exit status tells); --json one object: {"directory", "train_images", \
            "train_labels", "test_images", "test_labels"}.

            \(Exit.helpText)
            """
    )

    @Option(help: "MNIST directory to check instead of the cache.", completion: .directory)
    var data: String?

    @Flag(help: "Print only the directory (for scripts).")
    var printDir = false

    @Flag(name: [.customShort("q"), .long], help: "Print nothing: only check (or fetch) the files.")
    var quiet = false

    @Flag(help: "Print the directory and the four paths as one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let paths: MNIST.Paths
            do {
                paths = try MNIST.locate(directory: data, log: { line in Console.note("nnrt: \(line)") })
            } catch {
                throw CLIError(any: error)
            }
            let dir = URL(fileURLWithPath: paths.testImages).deletingLastPathComponent().path
            if json {
                JSON.object([("directory", .string(dir)), ("train_images", .string(paths.trainImages)),
                             ("train_labels", .string(paths.trainLabels)), ("test_images", .string(paths.testImages)),
                             ("test_labels", .string(paths.testLabels))]).emit()
            } else if quiet {
                return
            } else if printDir {
                say(dir)
            } else {
                for p in [paths.trainImages, paths.trainLabels, paths.testImages, paths.testLabels] { say(p) }
            }
        }
    }
}
