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

    /// The table in every command's --help (the same statuses mean the same on every command).
    static let helpText = """
        Exit status (the same on every command):
          0    success
          1    classify: some files could not be classified (the others were)
          64   bad command line
          65   invalid model, checkpoint or data file
          66   input file missing or unreadable
          69   MNIST unavailable (download failed)
          70   internal error
          73   output file cannot be written
          130  train: stopped by SIGINT (Ctrl-C) after saving a checkpoint
          143  train: stopped by SIGTERM after saving a checkpoint
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
        LiveLine.current?.finish()
        Console.error(error.message)
        throw ExitCode(error.status)
    } catch let error as ModelError {
        LiveLine.current?.finish()
        let e = CLIError(error)
        Console.error(e.message)
        throw ExitCode(e.status)
    } catch let error as ExitCode {
        LiveLine.current?.finish()
        throw error
    } catch {
        LiveLine.current?.finish()
        Console.error("\(error)")
        throw ExitCode(Exit.software)
    }
}

/// One line on standard output, written at once (not buffered) so that progress shows when
/// piped; printed above the progress line when one is shown.
func say(_ line: String) {
    if let live = LiveLine.current {
        live.printAbove([line])
    } else {
        writeLine(line)
    }
}

/// One line on standard output, as is.
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
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
