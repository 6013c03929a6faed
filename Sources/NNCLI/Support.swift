import ArgumentParser
import Foundation
import NNModel

/// Exit statuses of every nnrt command (sysexits.h numbers), listed in `nnrt --help`.
enum Exit {
    static let someFilesFailed: Int32 = 1 // classify: some files could not be classified
    static let usage: Int32 = 64        // bad command line (ArgumentParser's own)
    static let dataError: Int32 = 65    // a model or data file is invalid
    static let noInput: Int32 = 66      // an input file cannot be opened or read
    static let unavailable: Int32 = 69  // MNIST could not be fetched
    static let software: Int32 = 70     // internal error
    static let cannotCreate: Int32 = 73 // an output file cannot be written
    static let interrupted: Int32 = 130 // train: stopped by SIGINT (Ctrl-C), checkpoint saved (128 + 2)
    static let terminated: Int32 = 143  // train: stopped by SIGTERM, checkpoint saved (128 + 15)

    static let helpText = """
        Exit status: 0 success; 1 some files could not be classified (classify); 64 bad command line; 65 invalid model or data file; \
        66 input file missing or unreadable; 69 MNIST unavailable (download failed); \
        70 internal error; 73 output file cannot be written; \
        130 / 143 training stopped by SIGINT / SIGTERM after saving a checkpoint (train).
        """
}

/// A failure reported as one line on standard error with a distinct exit status.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    init(_ message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    var description: String { message }

    /// Maps a model-format error to an exit status.
    init(_ error: ModelError, path: String? = nil) {
        let prefix = path.map { "\($0): " } ?? ""
        let status: Int32
        switch error.code {
        case .io, .notFound: status = Exit.noInput
        case .internal: status = Exit.software
        case .invalidArgument: status = Exit.usage
        default: status = Exit.dataError
        }
        self.init(prefix + error.message, status: status)
    }
}

/// Runs `body`, turning any error into one line on stderr and the matching exit status.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("nnrt: error: \(error.message)\n".utf8))
        throw ExitCode(error.status)
    } catch let error as ModelError {
        let e = CLIError(error)
        FileHandle.standardError.write(Data("nnrt: error: \(e.message)\n".utf8))
        throw ExitCode(e.status)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("nnrt: error: \(error)\n".utf8))
        throw ExitCode(Exit.software)
    }
}

/// Standard output, flushed per line so progress shows when piped.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// True when standard error is a terminal (progress bars go there).
let stderrIsTerminal = isatty(STDERR_FILENO) != 0

/// A one-line progress indicator on a terminal (redrawn in place); silent when not a terminal.
struct ProgressLine {
    var label: String
    var enabled: Bool
    private var lastDrawn = -1
    private let start = Date()

    init(label: String, enabled: Bool = stderrIsTerminal) {
        self.label = label
        self.enabled = enabled
    }

    mutating func update(done: Int, total: Int) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let width = 30
        let filled = width * done / total
        let elapsed = Date().timeIntervalSince(start)
        var eta = ""
        if done > 0, done < total {
            let remaining = elapsed / Double(done) * Double(total - done)
            eta = String(format: " ETA %.0fs", remaining)
        }
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%\(eta)   ".utf8))
    }

    func clear() {
        guard enabled, lastDrawn >= 0 else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}

/// "95.42% (9542/10000)".
func accuracyText(correct: Int, total: Int) -> String {
    let pct = total > 0 ? 100.0 * Double(correct) / Double(total) : 0
    return String(format: "%.2f%% (%d/%d)", pct, correct, total)
}

/// Pads each column of `rows` to a common width (left-aligned; numbers right-aligned).
func table(_ rows: [[String]], rightAlign: Set<Int> = []) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            return rightAlign.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }.joined(separator: "\n")
}

/// Reads a model file, mapping errors to exit statuses (the messages name the path).
func loadModelFile(_ path: String) throws -> ModelFile {
    do {
        return try readModelFile(path: path)
    } catch {
        throw CLIError(error)
    }
}

/// Refuses a command line with an argument that is not valid UTF-8 (Swift's arguments would
/// carry U+FFFD in its place, and a file named that way could not be opened): exit status 64 and
/// what to do. Called before the arguments are parsed.
func checkArgumentsAreUTF8() {
    let argv = CommandLine.unsafeArgv
    for i in 1..<Int(CommandLine.argc) {
        guard let arg = argv[i], String(validatingCString: arg) == nil else { continue }
        let shown = String(decoding: UnsafeRawBufferPointer(start: arg, count: strlen(arg)), as: UTF8.self)
        FileHandle.standardError.write(Data("""
            nnrt: error: argument \(i) '\(shown)' is not valid UTF-8 (shown with \u{FFFD}): nnrt takes UTF-8 \
            arguments and file names only; rename the file (e.g. with convmv) or give a symbolic link with a UTF-8 name

            """.utf8))
        exit(Exit.usage)
    }
}
