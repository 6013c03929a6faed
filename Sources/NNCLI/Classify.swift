import ArgumentParser
import Foundation
import NNImaging
import NNModel
import NNRuntime

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify image files (PNG, JPEG, PGM/PPM) with a model.",
        discussion: """
            Each PATH is an image file, a directory (searched recursively for .png, .jpg, \
            .jpeg, .pgm, .ppm and .pnm files, in name order), or - to read a list of paths, one \
            per line, from standard input. A file named on the command line is read whatever \
            its name: the format is recognised from its contents.

            Every image is brought to the model's input exactly as libnnrt does it for C and \
            Python callers: grey levels (alpha over white), polarity decided from the image, \
            background removed, cropped to the ink, scaled to fit MNIST's 20x20 box keeping the \
            aspect ratio, and centred by its centre of mass in 28x28. --show DIR writes what the \
            network saw as PNG files.

            One bad file never stops the others: it is reported (in the table, the CSV's error \
            column or the JSON's "error") and the exit status is 1.

            Output: one line per file, on standard output, in the order given. --json (the same \
            as --format json) writes one object per file: {"path", "label", "index", \
            "confidence", "top": [{"label", "confidence"}], "flags"} or, for a file that failed, \
            {"path", "error", "status"}. On a terminal a progress bar (files per second, time \
            left) shows on standard error; --quiet turns it off.

            Examples:
              nnrt classify ch6.nnrt scans/
              nnrt classify ch6.nnrt digit.jpg --top 3
              find scans -name '*.jpg' | nnrt classify ch6.nnrt - --format csv > out.csv

            \(Exit.helpText)
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json
    }

    @Argument(help: "The model file (a network or an ensemble).", completion: .file(extensions: ["nnrt"]))
    var model: String

    @Argument(help: "Image files, directories, or - for a list of paths on standard input.", completion: .file())
    var paths: [String] = []

    @Option(help: "Output format: table (the default), csv (path,label,confidence,top,flags,error with a header line) or json (one object per line).")
    var format: Format?

    @Option(parsing: .unconditional, help: "How many of the most likely classes to list per file.")
    var top: Int = 3

    @Option(parsing: .unconditional, help: "Threads for decoding and prediction (default: one per core).")
    var threads: Int = 0

    @Option(help: "Write each preprocessed 28x28 input as a PNG into this directory (FILE-INDEX.png).", completion: .directory)
    var show: String?

    @Flag(name: [.customShort("q"), .long], help: "No progress bar, even on a terminal (the results are printed all the same).")
    var quiet = false

    @Flag(help: "The same as --format json: one JSON object per file.")
    var json = false

    func run() throws {
        try reportingErrors {
            if json, let format, format != .json {
                throw CLIError("--json and --format \(format.rawValue) ask for different outputs: give one of them", status: Exit.usage)
            }
            guard !paths.isEmpty else { throw CLIError("give at least one image file, directory, or - for a list on standard input", status: Exit.usage) }
            guard top >= 1 else { throw CLIError("--top must be at least 1, got \(top)", status: Exit.usage) }
            guard threads >= 0, threads <= 256 else { throw CLIError("--threads must be between 0 (one per core) and 256, got \(threads)", status: Exit.usage) }
            let file = try loadModelFile(model)
            let runtime: NNRuntime.Model
            do { runtime = try NNRuntime.Model(file: file) } catch { throw CLIError(any: error, path: model) }
            do { _ = try runtime.digitNormalization() } catch { throw CLIError(any: error, path: model) }
            let session: Session
            do { session = try Session(model: runtime, threads: threads) } catch { throw CLIError(any: error) }
            if let show {
                do { try FileManager.default.createDirectory(atPath: show, withIntermediateDirectories: true) } catch {
                    throw CLIError("--show \(show): cannot create the directory: \(error.localizedDescription)", status: Exit.cannotCreate)
                }
            }

            let files = try expand(paths)
            guard !files.isEmpty else {
                throw CLIError("no image files found in \(paths.joined(separator: ", ")): give image files, or directories holding "
                               + ".png, .jpg, .jpeg, .pgm, .ppm or .pnm files", status: Exit.noInput)
            }
            let printer = ResultPrinter(format: json ? .json : format ?? .table, labels: runtime.classLabels, top: min(top, runtime.classCount))
            printer.header()
            let progress = ItemProgress(total: files.count, unit: "files", enabled: !quiet)
            var failures = 0
            let classes = runtime.classCount
            var start = 0
            let block = 256
            var results = [ImageClassification](repeating: ImageClassification(), count: min(block, max(files.count, 1)))
            var outputs = [Float](repeating: 0, count: results.count * classes)
            // What the network saw, for --show.
            var seen = [Float](repeating: 0, count: show == nil ? 0 : results.count * runtime.inputSize)
            while start < files.count {
                let n = min(block, files.count - start)
                let chunk = Array(files[start..<(start + n)])
                do {
                    try results.withUnsafeMutableBufferPointer { r in
                        try outputs.withUnsafeMutableBufferPointer { o in
                            try seen.withUnsafeMutableBufferPointer { s in
                                try session.classifyImages(count: n, load: { i throws(ImageError) in try readImage(chunk[i]) },
                                                           results: UnsafeMutableBufferPointer(rebasing: r[0..<n]),
                                                           outputs: UnsafeMutableBufferPointer(rebasing: o[0..<(n * classes)]),
                                                           inputs: s.isEmpty ? nil : UnsafeMutableBufferPointer(rebasing: s[0..<(n * runtime.inputSize)]))
                            }
                        }
                    }
                } catch let error as ModelError {
                    throw CLIError(error)
                }
                var lines: [String] = []
                lines.reserveCapacity(n)
                for i in 0..<n {
                    let r = results[i]
                    if r.error != nil { failures += 1 }
                    if let line = printer.row(path: chunk[i], result: r, outputs: Array(outputs[(i * classes)..<((i + 1) * classes)])) {
                        lines.append(line)
                    }
                    if let show, r.error == nil {
                        try writeShown(chunk[i], index: start + i, input: Array(seen[(i * runtime.inputSize)..<((i + 1) * runtime.inputSize)]),
                                       model: runtime, into: show)
                    }
                }
                if let live = LiveLine.current { live.printAbove(lines) } else { for line in lines { writeLine(line) } }
                start += n
                progress.update(start)
            }
            progress.finish()
            if failures > 0 {
                Console.note("nnrt: \(failures) of \(files.count) files could not be classified")
                throw ExitCode(Exit.someFilesFailed)
            }
        }
    }

    /// Reads and decodes one image file. A name that was not valid UTF-8 (a file found in a
    /// directory, or a line of a list) reaches us with U+FFFD in place of its bad bytes and cannot
    /// be opened by that name: say so, rather than "No such file".
    func readImage(_ path: String) throws(ImageError) -> RawImage {
        do {
            return try readImageFile(path: path, hints: .recognition)
        } catch {
            if error.code == .io, path.contains("\u{FFFD}"), !FileManager.default.fileExists(atPath: path) {
                throw ImageError(.io, "cannot open: the file name is not valid UTF-8 (shown with \u{FFFD}); "
                                 + "nnrt takes UTF-8 file names only: rename the file (e.g. with convmv)")
            }
            throw error
        }
    }

    /// Files named, files under directories (recursively, image extensions, sorted), and lists
    /// read from standard input for "-".
    func expand(_ arguments: [String]) throws -> [String] {
        var files: [String] = []
        let extensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm", "pnm"]
        for argument in arguments {
            if argument == "-" {
                while let line = readLine() {
                    let path = line.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !path.isEmpty { files.append(path) }
                }
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                guard let walker = FileManager.default.enumerator(atPath: argument) else {
                    throw CLIError("\(argument): cannot list the directory", status: Exit.noInput)
                }
                var found: [String] = []
                for case let relative as String in walker
                where extensions.contains((relative as NSString).pathExtension.lowercased()) {
                    found.append((argument as NSString).appendingPathComponent(relative))
                }
                files += found.sorted()
            } else {
                files.append(argument)   // a missing file is reported as that file's error
            }
        }
        return files
    }

    /// Writes the network's view of `path` (its preprocessed `input`) as an 8-bit grey PNG.
    func writeShown(_ path: String, index: Int, input: [Float], model: NNRuntime.Model, into directory: String) throws {
        guard let (h, w) = model.input.greyPlane else { return }
        // Back from the contract's scaling to 8-bit levels, as the network's polarity has them.
        let scale = model.input.scale, offset = model.input.offset
        let levels = input.map { v -> UInt8 in
            let p = scale != 0 ? (v - offset) / scale : 0
            return UInt8(max(0, min(255, p.rounded())))
        }
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let target = (directory as NSString).appendingPathComponent("\(base)-\(index).png")
        guard let raw = RawImage(width: w, height: h, layout: .grey, maxValue: 255, samples: .eightBit(levels)) else { return }
        do {
            let png = try encodePNG(raw)
            try Data(png).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            throw CLIError("--show: cannot write \(target): \(error)", status: Exit.cannotCreate)
        }
    }
}

/// Prints one result per file as a table row, a CSV line or a JSON object.
final class ResultPrinter {
    let format: Classify.Format
    let labels: [String]
    let top: Int

    init(format: Classify.Format, labels: [String], top: Int) {
        self.format = format
        self.labels = labels
        self.top = top
    }

    func header() {
        switch format {
        case .csv: say("path,label,confidence,top,flags,error")
        case .table, .json: break
        }
    }

    static func flagNames(_ flags: ImageFlags) -> [String] {
        var names: [String] = []
        if flags.contains(.inverted) { names.append("inverted") }
        if flags.contains(.blank) { names.append("blank") }
        if flags.contains(.resized) { names.append("resized") }
        return names
    }

    /// The line for one file (nil only if JSON encoding failed).
    func row(path: String, result r: ImageClassification, outputs: [Float]) -> String? {
        let ranked = outputs.indices.sorted { outputs[$0] > outputs[$1] || (outputs[$0] == outputs[$1] && $0 < $1) }.prefix(top)
        let label = r.error == nil && r.label >= 0 && Int(r.label) < labels.count ? labels[Int(r.label)] : ""
        let confidence = String(format: "%.4f", r.confidence)
        switch format {
        case .table:
            if let error = r.error {
                return "\(path)  error: \(error.message)"
            } else {
                let topText = ranked.map { "\(labels[$0])=\(String(format: "%.3f", outputs[$0]))" }.joined(separator: " ")
                let flags = Self.flagNames(r.flags).filter { $0 != "resized" }
                return "\(path)  \(label)  \(confidence)  top: \(topText)" + (flags.isEmpty ? "" : "  [\(flags.joined(separator: ", "))]")
            }
        case .csv:
            let topText = r.error == nil ? ranked.map { "\(labels[$0]):\(String(format: "%.4f", outputs[$0]))" }.joined(separator: " ") : ""
            return [path, label, r.error == nil ? confidence : "", topText, Self.flagNames(r.flags).joined(separator: " "),
                    r.error?.message ?? ""].map(csvField).joined(separator: ",")
        case .json:
            var object: [String: Any] = ["path": path]
            if let error = r.error {
                object["error"] = error.message
                object["status"] = Int(error.code.rawValue)
            } else {
                object["label"] = label
                object["index"] = Int(r.label)
                object["confidence"] = Double(r.confidence)
                object["top"] = ranked.map { ["label": labels[$0], "confidence": Double(outputs[$0])] as [String: Any] }
                object["flags"] = Self.flagNames(r.flags)
            }
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
                return nil
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
    func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
