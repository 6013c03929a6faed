import Foundation
import NNModel
import NNTrainer
import Testing
@testable import NNCLI

// `nnrt report`: the page generator (charts, escaping, the figures it prints), the test-set
// measurement it runs, and writing the page. The rendered page in a real browser is checked by
// Tests/report/test-report.sh.

/// A 784 -> 10 sigmoid network whose answer depends on the first pixel only: 3 when it is
/// bright, 5 when it is dark (outputs sigmoid(+-5) = 0.9933 for the answer).
private func pixelNetwork(name: String = "pixel", provenance: Provenance? = nil) -> NetworkModel {
    var weights = [Float](repeating: 0, count: 10 * 784)
    var bias = [Float](repeating: -10, count: 10)
    weights[3 * 784] = 10; bias[3] = -5
    weights[5 * 784] = -10; bias[5] = 5
    return NetworkModel(name: name, layers: [.dense(name: "fc1", inputs: 784, outputs: 10, activation: .sigmoid,
                                                    weights: weights, bias: bias)],
                        classLabels: (0..<10).map(String.init), input: .mnist, cost: .quadratic, provenance: provenance)
}

/// A network that always answers `digit`.
private func constantNetwork(_ digit: Int, name: String) -> NetworkModel {
    var bias = [Float](repeating: -5, count: 10)
    bias[digit] = 5
    return NetworkModel(name: name, layers: [.dense(name: "fc1", inputs: 784, outputs: 10, activation: .sigmoid,
                                                    weights: [Float](repeating: 0, count: 7840), bias: bias)],
                        classLabels: (0..<10).map(String.init), input: .mnist, cost: .quadratic)
}

/// Four test images: the first pixel bright, dark, bright, dark; labels 3, 5, 5, 7. The pixel
/// network answers 3, 5, 3, 5: right, right, wrong (5 read as 3), wrong (7 read as 5).
private let testPixels: [UInt8] = (0..<4).flatMap { i -> [UInt8] in
    var image = [UInt8](repeating: 0, count: 784)
    image[0] = i % 2 == 0 ? 255 : 0
    image[400] = UInt8(40 * i)   // something to draw
    return image
}
private let testLabels: [UInt8] = [3, 5, 5, 7]

/// A history with every series recorded: costs and accuracies on training and validation data,
/// the test accuracy, gradient norms; the best validation epoch is 2 (tied by 3, which is later).
private func fullProvenance(command: String = "nnrt train --preset ch3-overfit --out m.nnrt") -> Provenance {
    var p = Provenance()
    p.dataset = "mnist"
    p.trainingSplit = "train[0:1000]"
    p.evaluationSplit = "train[50000:60000]"
    p.hyperparameters = Hyperparameters(sizes: [784, 10], cost: .crossEntropy, eta: 0.5, lambda: 5, miniBatchSize: 10,
                                        epochs: 3, weightInit: .scaledNormal, trainingExamples: 1000)
    p.seed = 42
    p.command = command
    p.preset = "ch3-overfit"
    p.createdAt = "2026-01-02T03:04:05Z"
    p.initialGradientNorms = [0.25]
    p.epochs = [
        EpochMetrics(epoch: 1, training: SplitMetrics(total: 1000, cost: 1.5, correct: 800),
                     evaluation: SplitMetrics(total: 10000, cost: 1.75, correct: 8000), seconds: 0.5, eta: 0.5,
                     gradientNorms: [0.125], test: SplitMetrics(total: 10000, correct: 7950)),
        EpochMetrics(epoch: 2, training: SplitMetrics(total: 1000, cost: 0.75, correct: 900),
                     evaluation: SplitMetrics(total: 10000, cost: 1.25, correct: 8500), seconds: 0.5, eta: 0.5,
                     gradientNorms: [0.0625], test: SplitMetrics(total: 10000, correct: 8444)),
        EpochMetrics(epoch: 3, training: SplitMetrics(total: 1000, cost: 0.5, correct: 950),
                     evaluation: SplitMetrics(total: 10000, cost: 1.5, correct: 8500), seconds: 0.5, eta: 0.5,
                     gradientNorms: [0.03125], test: SplitMetrics(total: 10000, correct: 8400)),
    ]
    return p
}

private func render(_ file: ModelFile, path: String = "m.nnrt", galleryLimit: Int = 150,
                    pixels: [UInt8] = testPixels, labels: [UInt8] = testLabels) throws -> String {
    let test = try measureOnTestSet(file, pixels: pixels, labels: labels, source: "t10k-images", modelPath: path)
    return try ReportPage(ReportInput(modelPath: path, file: file, test: test, generatedAt: "2026-01-02T03:04:05Z",
                                      galleryLimit: galleryLimit)).render()
}

private func occurrences(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

private func makeTempDirectory() -> String {
    let dir = NSTemporaryDirectory() + "nnrt-report-tests-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct ReportMeasurementTests {
    @Test func networkOnTheTestSet() throws {
        let m = try measureOnTestSet(ModelFile(body: .network(pixelNetwork())), pixels: testPixels, labels: testLabels,
                                     source: "t", modelPath: "m")
        #expect(m.total == 4 && m.correct == 2)
        #expect(m.confusion[3][3] == 1 && m.confusion[5][5] == 1 && m.confusion[5][3] == 1 && m.confusion[7][5] == 1)
        #expect(m.confusion.joined().reduce(0, +) == 4)
        #expect(m.mistakes.map(\.index) == [2, 3])
        #expect(m.mistakes.map(\.actual) == [5, 7] && m.mistakes.map(\.predicted) == [3, 5])
        #expect(abs(m.mistakes[0].confidence - 1 / (1 + exp(-5))) < 1e-5)
        #expect(m.mistakes[1].pixels == Array(testPixels[3 * 784 ..< 4 * 784]))
        #expect(m.memberCorrect.isEmpty)
        #expect(m.confidence == .output)
    }

    @Test func ensembleMembersAreMeasuredAlone() throws {
        let file = ModelFile(body: .ensemble(EnsembleModel(
            name: "trio", members: [pixelNetwork(name: "a"), constantNetwork(7, name: "b"), pixelNetwork(name: "c")], voting: .majority)))
        let m = try measureOnTestSet(file, pixels: testPixels, labels: testLabels, source: "t", modelPath: "e")
        #expect(m.memberCorrect == [2, 1, 2])
        #expect(m.correct == 2)
        #expect(m.confidence == .votes(members: 3))
        // Two of the three members gave each wrong answer.
        #expect(m.mistakes.allSatisfy { abs($0.confidence - 2.0 / 3.0) < 1e-6 })
    }

    @Test func aModelThatDoesNotTakeMNISTImagesIsADataError() throws {
        let small = NetworkModel(name: "small", layers: [.dense(name: "fc", inputs: 2, outputs: 10, activation: .sigmoid,
                                                                 weights: [Float](repeating: 0, count: 20), bias: [Float](repeating: 0, count: 10))],
                                 classLabels: (0..<10).map(String.init),
                                 input: InputContract(shape: [2], scale: 1, offset: 0, polarity: .lightOnDark), cost: .quadratic)
        #expect {
            _ = try measureOnTestSet(ModelFile(body: .network(small)), pixels: testPixels, labels: testLabels, source: "t", modelPath: "s.nnrt")
        } throws: { error in
            guard let e = error as? CLIError else { return false }
            return e.status == Exit.dataError && e.message.contains("784")
        }
    }
}

@Suite struct ReportPageTests {
    @Test func escapingNeutralisesMarkup() {
        #expect(htmlEscaped("<b>&\"'") == "&lt;b&gt;&amp;&quot;&#39;")
        #expect(htmlEscaped("a\u{0}b\u{1B}c\u{7F}d\u{FFFE}") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}")
        #expect(htmlEscaped("tab\tline\nη ‖∂C/∂b‖") == "tab\tline\nη ‖∂C/∂b‖")
    }

    @Test func textFromTheModelFileIsEscapedEverywhere() throws {
        let evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
        var network = pixelNetwork(name: "net " + evil, provenance: fullProvenance(command: "nnrt train --out " + evil))
        network.provenance?.preset = evil
        network.layers[0].name = evil
        network.provenance?.evaluationSplit = evil
        let file = ModelFile(metadata: [(key: evil, value: evil)], body: .network(network))
        let html = try render(file, path: "/tmp/" + evil + ".nnrt")
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img src=x"))
        // Every tag opened on the page is the generator's: the only <img> tags are the digits'.
        #expect(occurrences("<img ", in: html) == occurrences("<img src=\"data:image/png;base64,", in: html))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        // The name, command, preset, layer name, metadata and path all appear (escaped).
        #expect(occurrences("&lt;script&gt;", in: html) >= 7)
        // Nothing is fetched: every image is inline, and the only URL is SVG's namespace.
        #expect(!html.contains("src=\"http") && !html.contains("href="))
        #expect(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").range(of: "https?://", options: .regularExpression) == nil)
        #expect(html.contains("Content-Security-Policy"))
    }

    @Test func everyChartWhenEverySeriesIsRecorded() throws {
        let html = try render(ModelFile(body: .network(pixelNetwork(provenance: fullProvenance()))))
        for id in ["report-header", "summary", "run", "hyperparameters", "layers", "curves", "gradient-norms", "history",
                   "confusion-matrix", "misclassified", "chart-accuracy", "chart-cost", "chart-gradient-norms",
                   "history-table", "confusion-table", "gradient-norms-table"] {
            #expect(html.contains("id=\"\(id)\""), "missing id \(id)")
        }
        #expect(!html.contains("class=\"missing\""))
        #expect(!html.contains("id=\"members\""))
        // Three series in the accuracy chart (training, validation, test), two in the cost chart,
        // one layer's gradient norms: six series.
        #expect(occurrences("<g class=\"series\"", in: html) == 6)
        #expect(html.contains("data-label=\"validation data\"") && html.contains("data-label=\"test data\""))
        // The best validation epoch is 2 (8,500 correct, the earliest of the tie), marked on both
        // charts, starred in the history, and the test accuracy at that epoch is shown.
        #expect(occurrences("best epoch 2", in: html) == 2)
        #expect(html.contains("<tr class=\"best\"><td class=\"num\">2 ★</td>"))
        #expect(html.contains("84.44%"))
        // Per-epoch figures as recorded: costs, accuracies, the gradient norms at the start and end.
        #expect(html.contains("<td class=\"num\">0.7500</td>") && html.contains("<td class=\"num\">1.2500</td>"))
        #expect(html.contains("95.00% <span class=\"count\">950</span>"))
        #expect(html.contains("<td class=\"num\">0.25</td><td class=\"num\">0.03125</td>"))
        #expect(html.contains("L2,<wbr> λ = 5") && html.contains("ch3-overfit") && html.contains(">42<"))
    }

    @Test func seriesThatWereNotRecordedAreNamed() throws {
        var p = Provenance()
        p.evaluationSplit = "t10k"
        p.epochs = [EpochMetrics(epoch: 1, evaluation: SplitMetrics(total: 10000, correct: 9000), seconds: 1),
                    EpochMetrics(epoch: 2, evaluation: SplitMetrics(total: 10000, correct: 9100), seconds: 1)]
        let html = try render(ModelFile(body: .network(pixelNetwork(provenance: p))))
        #expect(html.contains("id=\"chart-accuracy\""))
        #expect(html.contains("Not recorded: training accuracy (<code class=\"flag\">--monitor-training-accuracy</code>)"))
        #expect(html.contains("id=\"missing-cost\"") && !html.contains("id=\"chart-cost\""))
        #expect(html.contains("id=\"missing-gradient-norms\"") && !html.contains("id=\"chart-gradient-norms\""))
        #expect(html.contains("id=\"missing-hyperparameters\""))
        // With test data as the evaluation data, its accuracy at the best epoch is the test figure.
        #expect(html.contains("Test at best epoch</div><div class=\"value\">91.00%"))
    }

    @Test func absurdFiguresFromAFileAreNotDrawnAndDoNotTrap() throws {
        var p = fullProvenance()
        p.epochs[0].training?.cost = .nan
        p.epochs[1].training?.cost = .infinity
        p.epochs[2].training?.cost = 1e300
        p.epochs[0].evaluation?.cost = -1e308
        p.epochs[0].seconds = 1e300
        p.epochs[1].seconds = .nan
        p.epochs[2].seconds = -5
        p.initialGradientNorms = [0]
        p.epochs[1].gradientNorms = [Double.leastNonzeroMagnitude]
        p.epochs[2].gradientNorms = [.infinity]
        let html = try render(ModelFile(body: .network(pixelNetwork(provenance: p))))
        // The cost chart: the three training costs and one validation cost; gradient norms: three.
        #expect(html.contains("4 values are not finite, beyond 1e15 and not drawn"))
        #expect(html.contains("3 values are not finite, beyond 1e15 or not positive and not drawn"))
        #expect(html.contains("id=\"chart-cost\"") && html.contains("id=\"chart-gradient-norms\""))
        let wide = LineChart(id: "w", title: "t", xLabel: "Epoch", yLabel: "y",
                             series: [ChartSeries(label: "s", color: "#000", points: [(1, 1e-290), (4_000_000_000, 1e14)])], logY: true)
        #expect(occurrences("<text x=", in: wide.svg()) < 40)
    }

    @Test func aModelWithoutHistory() throws {
        let html = try render(ModelFile(body: .network(pixelNetwork())))
        for id in ["missing-accuracy", "missing-cost", "missing-gradient-norms", "missing-history", "missing-hyperparameters"] {
            #expect(html.contains("id=\"\(id)\""), "missing id \(id)")
        }
        #expect(!html.contains("<svg"))
        // The name shown is the model's; the file name when it has none.
        #expect(html.contains("<h1>pixel</h1>"))
        let unnamed = try render(ModelFile(body: .network(pixelNetwork(name: ""))), path: "dir/my-model.nnrt")
        #expect(unnamed.contains("<h1>my-model</h1>"))
    }

    @Test func theMeasuredFiguresAreOnThePage() throws {
        var network = pixelNetwork()
        network.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 4, correct: 2))]
        let html = try render(ModelFile(body: .network(network)))
        #expect(html.contains("<div class=\"value\">50.00%</div>"))
        #expect(html.contains("the file records the same"))
        // The confusion matrix: one cell per pair, counts as measured.
        #expect(occurrences("data-count=", in: html) == 100)
        #expect(html.contains("data-true=\"5\" data-predicted=\"3\" data-count=\"1\""))
        #expect(html.contains("data-true=\"3\" data-predicted=\"3\" data-count=\"1\""))
        #expect(occurrences("data-count=\"0\"", in: html) == 96)
        #expect(html.contains("5 read as 3 (1×)") && html.contains("7 read as 5 (1×)"))
        // Both mistakes, in test-set order, each with an inline PNG, labels and confidence.
        #expect(occurrences("<figure class=\"digit\"", in: html) == 2)
        #expect(html.contains("All 2 of them, in test-set order"))
        #expect(html.contains("data-index=\"2\" data-true=\"5\" data-predicted=\"3\""))
        #expect(html.contains("data-index=\"3\" data-true=\"7\" data-predicted=\"5\""))
        #expect(occurrences("src=\"data:image/png;base64,iVBORw0KGgo", in: html) == 2)
        #expect(html.contains("<span class=\"conf\">0.99</span>"))

        // A file that records another figure says so.
        network.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 4, correct: 3))]
        #expect(try render(ModelFile(body: .network(network))).contains("the file records 75.00% (3/4)"))
    }

    @Test func theGalleryIsCappedWithACount() throws {
        // 40 images that the pixel network all gets wrong (bright first pixel, label 0), with
        // confidences that differ by image (a second weight on pixel 1).
        var network = pixelNetwork()
        network.layers[0].weights.data[3 * 784 + 1] = 4
        let count = 40
        var pixels: [UInt8] = []
        for i in 0..<count {
            var image = [UInt8](repeating: 0, count: 784)
            image[0] = 255
            image[1] = UInt8(i * 6)
            pixels += image
        }
        let html = try render(ModelFile(body: .network(network)), galleryLimit: 15, pixels: pixels,
                              labels: [UInt8](repeating: 0, count: count))
        #expect(occurrences("<figure class=\"digit\"", in: html) == 15)
        #expect(html.contains("The 15 most confident of the 40, most confident first"))
        #expect(html.contains("25 more misclassified digits are not shown"))
        // Most confident first: the brightest second pixel, image 39, leads.
        let first = html.range(of: "<figure class=\"digit\" data-index=\"")!
        #expect(html[first.upperBound...].hasPrefix("39\""))
    }

    @Test func ensemblePage() throws {
        var members = [pixelNetwork(name: "a", provenance: fullProvenance()), constantNetwork(7, name: "b"), pixelNetwork(name: "c")]
        members[2].provenance = fullProvenance()
        members[2].provenance?.seed = 43
        let file = ModelFile(body: .ensemble(EnsembleModel(name: "trio", members: members, voting: .majority)))
        let html = try render(file, path: "trio.nnrt")
        #expect(html.contains("ensemble of 3 · majority vote"))
        #expect(html.contains("id=\"members-table\""))
        // Each member's accuracy on its own, then the ensemble's.
        #expect(occurrences("class=\"num member-accuracy\"", in: html) == 3)
        #expect(html.contains("<td class=\"num member-accuracy\">50.00% (2/4)</td>"))
        #expect(html.contains("<td class=\"num member-accuracy\">25.00% (1/4)</td>"))
        // One chart per split, one line per member that recorded it; rings at the best epochs.
        for id in ["chart-accuracy-evaluation", "chart-accuracy-training", "chart-accuracy-test", "chart-cost-evaluation",
                   "chart-cost-training", "chart-gradient-norms-member-1", "chart-gradient-norms-member-3"] {
            #expect(html.contains("id=\"\(id)\""), "missing id \(id)")
        }
        #expect(!html.contains("chart-gradient-norms-member-2"))
        #expect(html.contains("<span class=\"conf\">2/3 votes</span>"))
        #expect(html.contains("<dd>42,<wbr> -,<wbr> 43 (member 1 to 3)</dd>"))
    }

    @Test func chartGeometry() {
        #expect(niceStep(0.23) == 0.25 && niceStep(7) == 10 && niceStep(0.3) == 0.5 && niceStep(1) == 1 && niceStep(0) == 1)
        let chart = LineChart(id: "c", title: "t", xLabel: "Epoch", yLabel: "y",
                              series: [ChartSeries(label: "s", color: "#000", points: [(1, 0), (2, .nan), (3, 10), (4, 5)])])
        let svg = chart.svg()
        #expect(chart.undrawableCount == 1)
        // The NaN breaks the line into two pieces: "M" starts each.
        let path = svg.components(separatedBy: "<path d=\"")[1].components(separatedBy: "\"")[0]
        #expect(occurrences("M", in: path) == 2 && occurrences("L", in: path) == 1)
        // y from 0 to 10: 0 at the plot's bottom, 10 at its top; x from 1 to 4 across the plot.
        let top = 14 + 18 + 10.0, bottom = top + LineChart.plotHeight
        #expect(path.hasPrefix("M\(String(format: "%.1f", LineChart.left)) \(String(format: "%.1f", bottom))"))
        #expect(path.contains("M\(String(format: "%.1f", LineChart.width - LineChart.right - (LineChart.width - LineChart.right - LineChart.left) / 3)) \(String(format: "%.1f", top))"))
        #expect(svg.contains(">10</text>") && svg.contains(">0</text>"))
        // A log axis puts decades on the ticks.
        let log = LineChart(id: "g", title: "t", xLabel: "Epoch", yLabel: "y", series: [
            ChartSeries(label: "s", color: "#000", points: [(0, 0.001), (1, 0.5)])], logY: true)
        let logSVG = log.svg()
        #expect(logSVG.contains(">0.001</text>") && logSVG.contains(">0.01</text>") && logSVG.contains(">1</text>"))
        #expect(groupedCount(1234567) == "1,234,567" && groupedCount(12) == "12" && groupedCount(-1000) == "-1,000")
        #expect(trimmedDecimal(95.5, 2) == "95.5" && trimmedDecimal(96, 2) == "96" && trimmedDecimal(95.42, 2) == "95.42")
    }
}

@Suite struct ReportOutputTests {
    @Test func directoriesAndTheirErrors() throws {
        #expect(defaultReportDirectory(forModel: "runs/ch1.nnrt") == "runs/ch1-report")
        #expect(defaultReportDirectory(forModel: "model") == "model-report")
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try checkReportDirectory(dir)                        // exists
        try checkReportDirectory(dir + "/new")               // its parent exists
        #expect(FileManager.default.createFile(atPath: dir + "/file", contents: Data()))
        for bad in ["", dir + "/file", dir + "/missing/new"] {
            #expect { try checkReportDirectory(bad) } throws: { ($0 as? CLIError)?.status == Exit.cannotCreate }
        }
    }

    @Test func writesTheWholePageAtomically() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A fake MNIST: the four test images above, and a token training set.
        let mnist = dir + "/mnist"
        try FileManager.default.createDirectory(atPath: mnist, withIntermediateDirectories: true)
        try IDX.write(IDX.Array(dimensions: [4, 28, 28], bytes: testPixels), to: mnist + "/t10k-images-idx3-ubyte.gz", gzip: true)
        try IDX.write(IDX.Array(dimensions: [4], bytes: testLabels), to: mnist + "/t10k-labels-idx1-ubyte.gz", gzip: true)
        try IDX.write(IDX.Array(dimensions: [4, 28, 28], bytes: testPixels), to: mnist + "/train-images-idx3-ubyte.gz", gzip: true)
        try IDX.write(IDX.Array(dimensions: [4], bytes: testLabels), to: mnist + "/train-labels-idx1-ubyte.gz", gzip: true)

        let file = ModelFile(body: .network(pixelNetwork(provenance: fullProvenance())))
        let out = dir + "/report"
        let written = try writeReport(file: file, modelPath: "m.nnrt", directory: out, data: mnist, runWallSeconds: 12.5)
        #expect(written.path == out + "/index.html")
        #expect(written.test.correct == 2 && written.test.total == 4)
        let html = try String(contentsOfFile: written.path, encoding: .utf8)
        #expect(html.utf8.count == written.bytes)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        #expect(html.contains("id=\"card-wall-time\"") && html.contains("12.5 s"))
        #expect(html.contains(mnist + "/t10k-images-idx3-ubyte.gz"))
        #expect(written.summaryLine.contains("test accuracy 50.00% (2/4), 2 misclassified"))
        // Again over the first: replaced, and no temporary file left beside it.
        _ = try writeReport(file: file, modelPath: "m.nnrt", directory: out, data: mnist)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["index.html"])

        // MNIST missing: status 66, nothing written.
        #expect {
            _ = try writeReport(file: file, modelPath: "m.nnrt", directory: dir + "/r2", data: dir + "/nowhere")
        } throws: { ($0 as? CLIError)?.status == Exit.noInput }
        #expect(!FileManager.default.fileExists(atPath: dir + "/r2"))
        // index.html that cannot be replaced (a directory in its place): status 73.
        try FileManager.default.createDirectory(atPath: dir + "/r3/index.html", withIntermediateDirectories: true)
        #expect {
            _ = try writeReport(file: file, modelPath: "m.nnrt", directory: dir + "/r3", data: mnist)
        } throws: { ($0 as? CLIError)?.status == Exit.cannotCreate }
    }
}
