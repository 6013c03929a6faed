import ArgumentParser
import Foundation
import NNModel
import NNRuntime
import NNTrainer

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a model: learning curves, gradient norms, confusion matrix, misclassified digits.",
        discussion: """
            Writes DIR/index.html: one self-contained page (inline CSS and SVG, the digits as \
            embedded PNG images, no script, nothing fetched) that a browser opens from disk and \
            that prints. It shows the model's name, preset, command, seed, hyper-parameters and \
            layers; charts of the per-epoch cost and accuracy on the training and evaluation data \
            that the model file recorded, with the best epoch marked (a note says what was not \
            recorded); the per-layer gradient norms (train --gradient-norms); the per-epoch \
            history. Measured when the page is made, by running MODEL on the 10,000 MNIST test \
            images as `nnrt eval` does: the test accuracy, the confusion matrix, and the \
            misclassified digits with their true label, the model's answer and its confidence \
            (all of them when there are at most 150, else the 150 most confident). For an \
            ensemble, also each member's accuracy on its own.

            The page is written atomically (a temporary file renamed over DIR/index.html); DIR \
            is created if missing (its parent must exist). `nnrt train --report DIR` writes the \
            same page right after training.

            Examples:
              nnrt report ch1.nnrt                          writes ch1-report/index.html
              nnrt report ens.nnrt --out /tmp/ens-report --data ~/mnist

            \(Exit.helpText)
            """
    )

    @Argument(help: "The model file (a network or an ensemble).")
    var model: String

    @Option(help: "Directory to write index.html into (default: MODEL without its extension, plus '-report').")
    var out: String?

    @Option(help: "MNIST directory (default: $MNIST_DIR, else the download cache).")
    var data: String?

    func run() throws {
        try reportingErrors {
            let directory = out ?? defaultReportDirectory(forModel: model)
            try checkReportDirectory(directory)
            let file = try loadModelFile(model)
            let written = try writeReport(file: file, modelPath: model, directory: directory, data: data)
            say(written.summaryLine)
        }
    }
}

/// "ch1-report" for "ch1.nnrt" (beside the model file).
func defaultReportDirectory(forModel path: String) -> String {
    let ns = path as NSString
    return (ns.pathExtension.isEmpty ? path : ns.deletingPathExtension) + "-report"
}

/// Fails early (status 73) if the report cannot be written into `directory`: an empty path, a
/// file in the way, or a directory (or, for a new one, its parent) that is missing or not writable.
func checkReportDirectory(_ directory: String) throws {
    guard !directory.isEmpty else {
        throw CLIError("the report directory is empty: give a directory, e.g. --report ch1-report", status: Exit.cannotCreate)
    }
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    if fm.fileExists(atPath: directory, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else {
            throw CLIError("cannot write the report into \(directory): it is a file, not a directory", status: Exit.cannotCreate)
        }
        guard fm.isWritableFile(atPath: directory) else {
            throw CLIError("cannot write the report into \(directory): the directory is not writable", status: Exit.cannotCreate)
        }
        return
    }
    var parent = (directory as NSString).deletingLastPathComponent
    if parent.isEmpty { parent = "." }
    var parentIsDirectory: ObjCBool = false
    guard fm.fileExists(atPath: parent, isDirectory: &parentIsDirectory), parentIsDirectory.boolValue else {
        throw CLIError("cannot create the report directory \(directory): directory \(parent) does not exist", status: Exit.cannotCreate)
    }
    guard fm.isWritableFile(atPath: parent) else {
        throw CLIError("cannot create the report directory \(directory): directory \(parent) is not writable", status: Exit.cannotCreate)
    }
}

/// A report written to disk.
struct WrittenReport {
    var path: String
    var bytes: Int
    /// Wall time of making it: reading the test set, running the model, rendering, writing.
    var seconds: Double
    var test: TestMeasurement

    /// "wrote r/index.html (212 KB; test accuracy 95.12% (9512/10000), 488 misclassified) in 0.41 s".
    var summaryLine: String {
        let size = bytes >= 10_240 ? "\(bytes / 1024) KB" : "\(bytes) bytes"
        return "wrote report \(path) (\(size); test accuracy \(accuracyText(correct: test.correct, total: test.total)), "
            + "\(test.total - test.correct) misclassified) in " + String(format: "%.2f s", seconds)
    }
}

/// Measures `file` on the MNIST test set (from `data`, else $MNIST_DIR, else the cache) and
/// writes `directory`/index.html atomically.
/// - Throws: `CLIError` with the CLI's statuses: 65 for a model that does not take MNIST images,
///   66/65/69 for MNIST missing, damaged or not downloadable, 73 if the page cannot be written.
func writeReport(file: ModelFile, modelPath: String, directory: String, data: String?,
                 runWallSeconds: Double? = nil) throws -> WrittenReport {
    let start = Date()
    let pixels: [UInt8], labels: [UInt8], source: String
    do {
        let paths = try MNIST.locate(directory: data, log: { line in
            FileHandle.standardError.write(Data("nnrt: \(line)\n".utf8))
        })
        (pixels, labels) = try MNIST.readPair(images: paths.testImages, labels: paths.testLabels)
        source = paths.testImages
    } catch {
        throw CLIError(any: error)
    }
    guard !labels.isEmpty else {
        throw CLIError("\(source) holds no images: give the MNIST test set (10,000 images)", status: Exit.dataError)
    }
    let measurement = try measureOnTestSet(file, pixels: pixels, labels: labels, source: source, modelPath: modelPath)
    let input = ReportInput(modelPath: modelPath, file: file, test: measurement, generatedAt: rfc3339UTC(Date()),
                            runWallSeconds: runWallSeconds)
    let html = try ReportPage(input).render()

    let fm = FileManager.default
    if !fm.fileExists(atPath: directory) {
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: false)
        } catch {
            throw CLIError("cannot create the report directory \(directory): \(error.localizedDescription)", status: Exit.cannotCreate)
        }
    }
    let path = (directory as NSString).appendingPathComponent("index.html")
    let bytes = Array(html.utf8)
    do {
        try writeFileAtomically(bytes, to: path)
    } catch {
        throw CLIError("cannot write the report \(path): \(error.message)", status: Exit.cannotCreate)
    }
    return WrittenReport(path: path, bytes: bytes.count, seconds: Date().timeIntervalSince(start), test: measurement)
}

/// Runs `file` (through the runtime, as `nnrt eval`) on the test images `pixels` (28x28 each) with
/// their `labels`: accuracy, confusion matrix, every mistake with the model's confidence, and for
/// an ensemble each member's accuracy on its own.
/// - Throws: `CLIError` (65) for a model that does not take 784 inputs, or the runtime's error.
func measureOnTestSet(_ file: ModelFile, pixels: [UInt8], labels: [UInt8], source: String,
                      modelPath: String) throws -> TestMeasurement {
    let runtime: NNRuntime.Model
    do { runtime = try NNRuntime.Model(file: file) } catch { throw CLIError(any: error, path: modelPath) }
    guard runtime.inputSize == 784 else {
        throw CLIError("\(modelPath): takes \(runtime.inputSize) inputs per example; MNIST images have 784", status: Exit.dataError)
    }
    let count = labels.count
    guard count > 0, pixels.count == count * 784 else {
        throw CLIError("\(source): \(pixels.count) pixels do not make \(count) images of 28x28", status: Exit.dataError)
    }
    let classes = runtime.classCount

    // An ensemble's members are also run on their own. All runs go at once, one per core at
    // most (a runtime model is immutable and thread-safe): on two cores, the ensemble's run and
    // its members' runs together take about as long as the ensemble's alone.
    var models = [runtime]
    if case .ensemble(let e) = file.body {
        for member in e.members {
            do { models.append(try NNRuntime.Model(file: ModelFile(body: .network(member)))) } catch { throw CLIError(any: error, path: modelPath) }
        }
    }
    let runs = PredictionSlots(count: models.count)
    let all = models
    DispatchQueue.concurrentPerform(iterations: all.count) { k in
        do throws(ModelError) {
            runs.store(k, .success(try all[k].predict(pixels: pixels)))
        } catch {
            runs.store(k, .failure(error))
        }
    }
    var predictions: [Prediction] = []
    for result in runs.results {
        switch result {
        case .success(let p)?: predictions.append(p)
        case .failure(let error)?: throw CLIError(any: error, path: modelPath)
        case nil: throw CLIError("internal error: a prediction did not run", status: Exit.software)
        }
    }

    /// Correct as `nnrt eval` counts it: the answer's label is the digit.
    func isCorrect(_ predicted: Int, _ i: Int) -> Bool { runtime.classLabels[predicted] == String(labels[i]) }

    let prediction = predictions[0]
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var correct = 0
    var mistakes: [TestMeasurement.Mistake] = []
    for i in 0..<count {
        let predicted = Int(prediction.labels[i])
        let actual = Int(labels[i])
        if actual < classes { confusion[actual][predicted] += 1 }
        if isCorrect(predicted, i) {
            correct += 1
        } else {
            mistakes.append(.init(index: i, actual: actual, predicted: predicted,
                                  confidence: prediction.outputs[i * classes + predicted],
                                  pixels: Array(pixels[i * 784 ..< (i + 1) * 784])))
        }
    }
    let memberCorrect = predictions.dropFirst().map { p in (0..<count).filter { isCorrect(Int(p.labels[$0]), $0) }.count }

    let confidence: TestMeasurement.Confidence
    switch file.body {
    case .network(let n):
        confidence = n.layers.last?.activation == .softmax ? .probability : .output
    case .ensemble(let e):
        confidence = e.voting == .majority
            ? .votes(members: e.members.count)
            : .meanOutput(members: e.members.count, softmax: e.members.allSatisfy { $0.layers.last?.activation == .softmax })
    }
    return TestMeasurement(total: count, correct: correct, classLabels: runtime.classLabels, confusion: confusion,
                           mistakes: mistakes, memberCorrect: memberCorrect, confidence: confidence, dataSource: source)
}

/// The results of predictions run at once on several threads, by index.
private final class PredictionSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Prediction, ModelError>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ index: Int, _ result: Result<Prediction, ModelError>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    var results: [Result<Prediction, ModelError>?] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}
