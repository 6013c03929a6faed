// SVG line charts for `nnrt report` (ReportPage.swift): axes with "nice" ticks, a legend, an
// optional marked epoch, hover titles on the points. Pure string building, no Foundation
// formatting that depends on the locale; every text that may come from a model file goes through
// `htmlEscaped`.

import Foundation

/// `text` safe inside HTML and inline SVG, as element content or a quoted attribute value: the
/// five markup characters become entities, and control characters (other than tab and line
/// breaks) and Unicode non-characters become U+FFFD, so names and commands from a model file can
/// never open a tag or end an attribute.
func htmlEscaped(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out.append(contentsOf: "&amp;".unicodeScalars)
        case "<": out.append(contentsOf: "&lt;".unicodeScalars)
        case ">": out.append(contentsOf: "&gt;".unicodeScalars)
        case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
        case "'": out.append(contentsOf: "&#39;".unicodeScalars)
        case "\t", "\n", "\r": out.append(scalar)
        default:
            let v = scalar.value
            if v < 0x20 || (0x7F...0x9F).contains(v) || scalar.properties.isNoncharacterCodePoint {
                out.append("\u{FFFD}")
            } else {
                out.append(scalar)
            }
        }
    }
    return String(out)
}

/// A number with `digits` decimals, "." as the separator whatever the locale.
func decimal(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

/// One line of a chart.
struct ChartSeries {
    var label: String
    /// A CSS colour.
    var color: String
    var dashed = false
    /// (x, y) in data units; non-finite y values break the line and are not drawn.
    var points: [(x: Double, y: Double)]
    /// The x of a point to ring (e.g. an ensemble member's best epoch).
    var ringAt: Double? = nil
}

/// A line chart of per-epoch figures, rendered as inline SVG.
struct LineChart {
    /// The SVG element's id (unique on the page).
    var id: String
    /// What the chart shows, for screen readers and as the SVG's <title>.
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [ChartSeries]
    /// A logarithmic y axis (values <= 0 are then not drawn).
    var logY = false
    /// Formats a y value for tick labels and hover titles.
    var yFormat: (Double) -> String = { String(format: "%g", $0) }
    /// The highest the y axis may go (accuracy: 100).
    var yCeiling: Double? = nil
    /// A vertical dashed line at an x value, with a label.
    var marker: (x: Double, label: String)? = nil

    static let width = 560.0
    static let plotHeight = 220.0
    static let left = 62.0, right = 18.0, bottom = 46.0

    /// How many y values the chart does not draw (NaN, infinities, beyond 1e15, or <= 0 on a log axis).
    var undrawableCount: Int {
        series.reduce(0) { $0 + $1.points.filter { !drawable($0.y) }.count }
    }

    /// Whether a value can be drawn: finite, within 1e15 (a larger cost or norm means a run that
    /// diverged, and would flatten every other point), and positive on a log axis.
    private func drawable(_ y: Double) -> Bool { y.isFinite && abs(y) < 1e15 && (!logY || y > 1e-300) }

    func svg() -> String {
        let width = Self.width
        // Legend rows: items laid out left to right, wrapped at the plot's width.
        var legendRows: [[(ChartSeries, Double)]] = [[]]
        var cursor = 0.0
        let legendWidth = width - Self.left - Self.right
        for s in series {
            let w = 34 + 6.8 * Double(s.label.count) + 14
            if cursor + w > legendWidth, !legendRows[legendRows.count - 1].isEmpty {
                legendRows.append([])
                cursor = 0
            }
            legendRows[legendRows.count - 1].append((s, cursor))
            cursor += w
        }
        // Room under the legend for the marked epoch's label, which sits above the plot so that
        // it never hides a curve.
        let top = 14 + 18 * Double(legendRows.count) + (marker == nil ? 10 : 24)
        let height = top + Self.plotHeight + Self.bottom
        let plotLeft = Self.left, plotRight = width - Self.right
        let plotTop = top, plotBottom = top + Self.plotHeight

        // Domains.
        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        var xMin = xs.min() ?? 0, xMax = xs.max() ?? 1
        if xMin == xMax { xMin -= 1; xMax += 1 }
        let ys = series.flatMap { $0.points.map(\.y) }.filter(drawable)
        let yTicks: [Double]
        var yLow: Double, yHigh: Double
        if logY {
            let lo = (ys.min() ?? 1).clampedLog10.rounded(.down)
            var hi = (ys.max() ?? 10).clampedLog10.rounded(.up)
            if hi <= lo { hi = lo + 1 }
            yLow = pow(10, lo); yHigh = pow(10, hi)
            var ticks: [Double] = []
            let decades = Int(hi - lo)
            // Every decade up to 10 of them, else every few (at most about 10 ticks).
            let every = max(1, (decades + 9) / 10)
            for k in stride(from: Int(lo), through: Int(hi), by: every) {
                let base = pow(10, Double(k))
                ticks.append(base)
                if decades <= 2, k < Int(hi) { ticks.append(2 * base); ticks.append(5 * base) }
            }
            yTicks = ticks
        } else {
            var lo = ys.min() ?? 0, hi = ys.max() ?? 1
            if lo == hi {
                let pad = lo == 0 ? 1 : abs(lo) * 0.05
                lo -= pad; hi += pad
            }
            let step = niceStep((hi - lo) / 5)
            yLow = (lo / step).rounded(.down) * step
            yHigh = (hi / step).rounded(.up) * step
            if let ceiling = yCeiling, yHigh > ceiling, hi <= ceiling { yHigh = ceiling }
            if yHigh <= yLow { yHigh = yLow + step }
            // By index, not by repeated addition (which can stall on a tiny step of a large value).
            let steps = ((yHigh - yLow) / step).rounded()
            let count = steps.isFinite && steps >= 0 && steps < 50 ? Int(steps) : 50
            yTicks = (0...max(count, 1)).map { i in
                let t = yLow + Double(i) * step
                return abs(t) < step * 1e-9 ? 0 : t
            }
        }
        func px(_ x: Double) -> Double { plotLeft + (x - xMin) / (xMax - xMin) * (plotRight - plotLeft) }
        func py(_ y: Double) -> Double {
            let f = logY ? (log10(y) - log10(yLow)) / (log10(yHigh) - log10(yLow)) : (y - yLow) / (yHigh - yLow)
            return plotBottom - f * (plotBottom - plotTop)
        }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = "<svg id=\"\(htmlEscaped(id))\" class=\"chart-svg\" xmlns=\"http://www.w3.org/2000/svg\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height.rounded(.up)))\" role=\"img\" aria-label=\"\(htmlEscaped(title))\">"
        s += "<title>\(htmlEscaped(title))</title>"
        s += "<rect x=\"\(n(plotLeft))\" y=\"\(n(plotTop))\" width=\"\(n(plotRight - plotLeft))\" height=\"\(n(plotBottom - plotTop))\" fill=\"#fbfcfe\"/>"

        // Grid and y ticks.
        s += "<g class=\"y-axis\" font-size=\"11\" fill=\"#5b6475\" text-anchor=\"end\">"
        for t in yTicks {
            let y = py(t)
            s += "<line x1=\"\(n(plotLeft))\" x2=\"\(n(plotRight))\" y1=\"\(n(y))\" y2=\"\(n(y))\" stroke=\"#e3e7ee\" stroke-width=\"1\"/>"
            s += "<text x=\"\(n(plotLeft - 7))\" y=\"\(n(y + 3.5))\">\(htmlEscaped(yFormat(t)))</text>"
        }
        s += "</g>"
        // X ticks: integers (epochs), at most about 12.
        let span = xMax - xMin
        let xStep = max(1, niceStep(span / 10).rounded(.up))
        s += "<g class=\"x-axis\" font-size=\"11\" fill=\"#5b6475\" text-anchor=\"middle\">"
        var xt = (xMin / xStep).rounded(.up) * xStep
        while xt <= xMax + 1e-9 {
            let x = px(xt)
            s += "<line x1=\"\(n(x))\" x2=\"\(n(x))\" y1=\"\(n(plotBottom))\" y2=\"\(n(plotBottom + 5))\" stroke=\"#8a93a3\"/>"
            s += "<text x=\"\(n(x))\" y=\"\(n(plotBottom + 18))\">\(Int(xt.rounded()))</text>"
            xt += xStep
        }
        s += "</g>"
        s += "<line x1=\"\(n(plotLeft))\" x2=\"\(n(plotRight))\" y1=\"\(n(plotBottom))\" y2=\"\(n(plotBottom))\" stroke=\"#8a93a3\"/>"
        s += "<line x1=\"\(n(plotLeft))\" x2=\"\(n(plotLeft))\" y1=\"\(n(plotTop))\" y2=\"\(n(plotBottom))\" stroke=\"#8a93a3\"/>"
        // Axis labels.
        s += "<text x=\"\(n((plotLeft + plotRight) / 2))\" y=\"\(n(plotBottom + 38))\" font-size=\"12\" fill=\"#1d2330\" text-anchor=\"middle\">\(htmlEscaped(xLabel))</text>"
        let yMid = (plotTop + plotBottom) / 2
        s += "<text transform=\"translate(15 \(n(yMid))) rotate(-90)\" font-size=\"12\" fill=\"#1d2330\" text-anchor=\"middle\">\(htmlEscaped(yLabel))</text>"

        // The marked epoch: its line under the curves, its label (below) over them.
        let shownMarker = marker.flatMap { $0.x >= xMin && $0.x <= xMax ? $0 : nil }
        if let marker = shownMarker {
            let x = px(marker.x)
            s += "<line class=\"marker\" x1=\"\(n(x))\" x2=\"\(n(x))\" y1=\"\(n(plotTop - 2))\" y2=\"\(n(plotBottom))\" stroke=\"#6b4fbb\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
        }
        var markerLabel = ""
        if let marker = shownMarker {
            let x = px(marker.x)
            let anchor = x > (plotLeft + plotRight) / 2 ? "end" : "start"
            let tx = anchor == "end" ? x - 5 : x + 5
            markerLabel = "<text class=\"marker-label\" x=\"\(n(tx))\" y=\"\(n(plotTop - 5))\" font-size=\"11\" font-weight=\"600\" "
                + "fill=\"#6b4fbb\" text-anchor=\"\(anchor)\">\(htmlEscaped(marker.label))</text>"
        }

        // The series.
        let markersWanted = series.allSatisfy { $0.points.count <= 40 }
        for line in series {
            var d = ""
            var penDown = false
            for p in line.points {
                guard p.x.isFinite, drawable(p.y) else { penDown = false; continue }
                d += (penDown ? "L" : "M") + n(px(p.x)) + " " + n(py(p.y))
                penDown = true
            }
            s += "<g class=\"series\" data-label=\"\(htmlEscaped(line.label))\">"
            if !d.isEmpty {
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" stroke-linejoin=\"round\""
                    + (line.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>"
            }
            for p in line.points where p.x.isFinite && drawable(p.y) {
                let ring = line.ringAt == p.x
                guard markersWanted || ring else { continue }
                let r = ring ? 5.0 : 2.6
                let fill = ring ? "#fff" : line.color
                s += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"\(r)\" fill=\"\(fill)\" stroke=\"\(line.color)\" stroke-width=\"\(ring ? 2 : 1)\">"
                s += "<title>\(htmlEscaped(line.label)), \(htmlEscaped(xLabel.lowercased())) \(Int(p.x.rounded())): \(htmlEscaped(yFormat(p.y)))</title></circle>"
            }
            s += "</g>"
        }

        s += markerLabel

        // Legend.
        s += "<g class=\"legend\" font-size=\"12\" fill=\"#1d2330\">"
        for (row, items) in legendRows.enumerated() {
            let y = 14 + 18 * Double(row) + 6
            for (item, offset) in items {
                let x = plotLeft + offset
                s += "<line x1=\"\(n(x))\" x2=\"\(n(x + 26))\" y1=\"\(n(y - 4))\" y2=\"\(n(y - 4))\" stroke=\"\(item.color)\" stroke-width=\"2.5\""
                    + (item.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>"
                s += "<text x=\"\(n(x + 32))\" y=\"\(n(y))\">\(htmlEscaped(item.label))</text>"
            }
        }
        s += "</g></svg>"
        return s
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw` (a tick step).
func niceStep(_ raw: Double) -> Double {
    guard raw.isFinite, raw > 0 else { return 1 }
    let power = pow(10, (log10(raw)).rounded(.down))
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] where m * power >= raw * (1 - 1e-9) { return m * power }
    return 10 * power
}

private extension Double {
    /// log10 of a positive value; -300 for anything else (only used on filtered values).
    var clampedLog10: Double { self > 0 ? log10(self) : -300 }
}
