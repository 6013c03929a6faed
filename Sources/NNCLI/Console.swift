// What nnrt writes where, and how: results on standard output (plain text, or JSON with --json),
// progress and messages on standard error. A live progress line is drawn only when standard error
// is a terminal that is not TERM=dumb; colour only then and when NO_COLOR is unset or empty
// (https://no-color.org). Piped, every line is plain text that ends in a newline: no carriage
// returns, no escape sequences.

import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal nnrt runs in, decided once at start.
enum Console {
    static let environment = ProcessInfo.processInfo.environment
    static let stdoutIsTerminal = isatty(STDOUT_FILENO) != 0
    static let stderrIsTerminal = isatty(STDERR_FILENO) != 0
    /// TERM=dumb: a terminal that cannot redraw a line (Emacs shells, some CI logs).
    static let dumbTerminal = environment["TERM"] == "dumb"
    /// NO_COLOR set to anything but the empty string turns colour off.
    static let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
    /// Whether a progress line may be redrawn in place on standard error.
    static let liveProgress = stderrIsTerminal && !dumbTerminal
    /// Whether standard error may be coloured.
    static let stderrColor = liveProgress && !noColor
    /// Whether the locale can show the Unicode block characters of the bar.
    static let unicode: Bool = {
        let locale = [environment["LC_ALL"], environment["LC_CTYPE"], environment["LANG"]]
            .compactMap { $0 }.first { !$0.isEmpty } ?? ""
        let l = locale.lowercased()
        return l.contains("utf-8") || l.contains("utf8")
    }()

    /// Columns of the terminal on standard error (80 if unknown).
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let c = environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        return 80
    }

    /// `text` in an SGR style (e.g. "1;31" bold red) when standard error takes colour.
    static func styled(_ text: String, _ sgr: String) -> String {
        stderrColor ? "\u{1B}[\(sgr)m\(text)\u{1B}[0m" : text
    }

    /// Writes one message line to standard error, clearing any live progress line first.
    static func note(_ line: String) {
        LiveLine.current?.clear()
        FileHandle.standardError.write(Data((line + "\n").utf8))
        LiveLine.current?.redraw()
    }

    /// "nnrt: error: MESSAGE" on standard error ("error:" in bold red on a colour terminal).
    static func error(_ message: String) {
        note("nnrt: " + styled("error:", "1;31") + " " + message)
    }

    /// "nnrt: warning: MESSAGE" on standard error.
    static func warning(_ message: String) {
        note("nnrt: " + styled("warning:", "1;33") + " " + message)
    }
}

/// Seconds on a monotonic clock.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// "0:07", "12:34", "1:02:03".
func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, (s % 3600) / 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

/// "950", "12.3k", "1.25M" (for rates).
func compactCount(_ value: Double) -> String {
    guard value.isFinite, value >= 0 else { return "?" }
    if value >= 9_999_500 { return String(format: "%.1fM", value / 1e6) }
    if value >= 999_950 { return String(format: "%.2fM", value / 1e6) }
    if value >= 9_999.5 { return String(format: "%.0fk", value / 1e3) }
    if value >= 999.5 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}

/// "1,234,567".
func groupedCount(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (value < 0 ? "-" : "") + out
}

/// The progress line on standard error: redrawn in place at most 10 times a second, first drawn
/// a quarter of a second after it starts (so quick work shows none), cut to the terminal's width,
/// and cleared before any other line is printed. Disabled (every call returns at once) when
/// standard error is not a live terminal or the command runs with --quiet. Thread-safe.
final class LiveLine: @unchecked Sendable {
    /// The line being shown, so that messages can be printed above it.
    nonisolated(unsafe) static var current: LiveLine?

    struct Segment {
        var text: String
        var style: String? = nil
        /// Segments that may be left out, last first, when the line does not fit.
        var optional = false
    }

    let enabled: Bool
    private let lock = NSLock()
    private let started = monotonicSeconds()
    private var lastDraw = 0.0
    private var shownWidth = 0
    private var segments: [Segment] = []
    static let interval = 0.1
    static let delay = 0.25

    init(enabled: Bool) {
        self.enabled = enabled && Console.liveProgress
        if self.enabled { LiveLine.current = self }
    }

    /// True when it is time to draw again (the caller then builds the segments and calls `show`).
    func due(force: Bool = false) -> Bool {
        guard enabled else { return false }
        let now = monotonicSeconds()
        lock.lock(); defer { lock.unlock() }
        guard now - started >= LiveLine.delay, force || now - lastDraw >= LiveLine.interval else { return false }
        lastDraw = now
        return true
    }

    /// Draws `segments` in place of the previous line.
    func show(_ segments: [Segment]) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        self.segments = segments
        drawLocked()
    }

    /// Draws the last segments again (after a message was printed above).
    func redraw() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if !segments.isEmpty { drawLocked() }
    }

    /// Removes the line from the terminal (it comes back with the next `show`).
    func clear() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        guard shownWidth > 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: shownWidth) + "\r").utf8))
        shownWidth = 0
    }

    /// Clears the line until the next `show` (what it showed is over, e.g. an epoch).
    func reset() {
        clear()
        lock.lock(); segments = []; lock.unlock()
    }

    /// Clears the line for good.
    func finish() {
        clear()
        lock.lock(); segments = []; lock.unlock()
        if LiveLine.current === self { LiveLine.current = nil }
    }

    /// Prints `lines` on standard output above the progress line. The line is cleared first even
    /// when standard output is not the terminal (`nnrt train | tee log` echoes the lines there);
    /// it is drawn again at once only when standard output is the terminal, else at the next
    /// update, after the echo.
    func printAbove(_ lines: [String]) {
        guard enabled else { for line in lines { writeLine(line) }; return }
        lock.lock(); defer { lock.unlock() }
        if shownWidth > 0 {
            FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: shownWidth) + "\r").utf8))
            shownWidth = 0
        }
        for line in lines { writeLine(line) }
        if Console.stdoutIsTerminal, !segments.isEmpty { drawLocked() }
    }

    private func drawLocked() {
        let width = max(20, Console.columns() - 1)   // never the last column: no wrap, no scroll
        var parts = segments
        func visible(_ p: [Segment]) -> Int { p.reduce(0) { $0 + $1.text.count } }
        while visible(parts) > width, let i = parts.lastIndex(where: \.optional) { parts.remove(at: i) }
        var text = ""
        var count = 0
        for part in parts {
            var t = part.text
            if count + t.count > width { t = String(t.prefix(max(0, width - count))) }
            count += t.count
            text += part.style.map { Console.styled(t, $0) } ?? t
            if count >= width { break }
        }
        let pad = max(0, shownWidth - count)
        FileHandle.standardError.write(Data(("\r" + text + String(repeating: " ", count: pad)).utf8))
        shownWidth = count
    }

    /// A bar of `width` cells, `fraction` of them filled (Unicode blocks with eighths, or ASCII).
    static func bar(_ fraction: Double, width: Int = 24) -> [Segment] {
        let f = max(0, min(1, fraction.isFinite ? fraction : 0))
        if Console.unicode {
            let eighths = Int((f * Double(width * 8)).rounded(.down))
            let full = eighths / 8, part = eighths % 8
            let partial = part > 0 ? String(Array("▏▎▍▌▋▊▉")[part - 1]) : ""
            let empty = width - full - (partial.isEmpty ? 0 : 1)
            return [Segment(text: String(repeating: "█", count: full) + partial, style: "36"),
                    Segment(text: String(repeating: "░", count: empty), style: "2")]
        }
        let full = Int((f * Double(width)).rounded(.down))
        return [Segment(text: "["), Segment(text: String(repeating: "#", count: full), style: "36"),
                Segment(text: String(repeating: "-", count: width - full) + "]")]
    }
}

/// A bar for work counted in items (eval's images, classify's files): "[bar] 42%  4,200/10,000
/// images  12.3k images/s  ETA 0:03".
final class ItemProgress: @unchecked Sendable {
    let line: LiveLine
    let total: Int
    let unit: String
    let started = monotonicSeconds()

    init(total: Int, unit: String, enabled: Bool) {
        self.total = total
        self.unit = unit
        line = LiveLine(enabled: enabled && total > 0)
    }

    func update(_ done: Int) {
        guard line.due(force: false) else { return }
        let elapsed = monotonicSeconds() - started
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        var segments = LiveLine.bar(fraction)
        segments.append(.init(text: String(format: " %3d%%", Int(fraction * 100))))
        segments.append(.init(text: "  \(groupedCount(done))/\(groupedCount(total)) \(unit)", optional: true))
        if rate > 0 {
            segments.append(.init(text: "  \(compactCount(rate)) \(unit)/s", optional: true))
            segments.append(.init(text: "  ETA " + durationText(Double(total - done) / rate)))
        }
        line.show(segments)
    }

    func finish() { line.finish() }
}

/// A JSON value with its keys in the order they were given (nnrt's own --json output).
enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    static func optional(_ value: Int?) -> JSON { value.map(JSON.int) ?? .null }
    static func optional(_ value: Double?) -> JSON { value.map(JSON.double) ?? .null }
    static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    static func numbers(_ values: [Double]) -> JSON { .array(values.map(JSON.double)) }
    /// A time in seconds, to 0.1 ms.
    static func seconds(_ value: Double) -> JSON { .double((value * 10_000).rounded() / 10_000) }
    static func ints(_ values: [Int]) -> JSON { .array(values.map(JSON.int)) }
    static func strings(_ values: [String]) -> JSON { .array(values.map(JSON.string)) }

    /// Compact text on one line.
    var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSON.string(key).write(to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        case .array(let values):
            out += "["
            for (i, value) in values.enumerated() {
                if i > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .string(let s):
            out += "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .double(let v):
            if !v.isFinite { out += "null" } else if v == v.rounded(), abs(v) < 1e15 { out += String(Int64(v)) } else { out += "\(v)" }
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// Writes the value as one line on standard output.
    func emit() { say(text) }
}
