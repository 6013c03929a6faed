import NNModel
import Testing
@testable import NNCLI

/// The pieces of nnrt's output: its JSON writer, the figures of the progress line, and the
/// multiply-adds in `nnrt inspect`'s summary.
@Suite struct ConsoleTests {
    @Test func jsonKeepsKeyOrderAndEscapes() {
        let value = JSON.object([
            ("event", .string("epoch")), ("z", .int(-3)), ("a", .null), ("ok", .bool(true)),
            ("text", .string("quote \" backslash \\ newline \n tab \t bell \u{7} é")),
            ("list", .array([.double(0.5), .double(3), .double(.nan), .uint(UInt64.max)])),
        ])
        #expect(value.text == #"{"event":"epoch","z":-3,"a":null,"ok":true,"text":"quote \" backslash \\ newline \n tab \t bell \u0007 é","list":[0.5,3,null,18446744073709551615]}"#)
    }

    @Test func jsonSecondsAreRoundedToATenthOfAMillisecond() {
        #expect(JSON.seconds(0.6193571520000001).text == "0.6194")
        #expect(JSON.seconds(2).text == "2")
        #expect(JSON.optional(nil as Int?).text == "null")
    }

    @Test func durations() {
        #expect(durationText(0) == "0:00")
        #expect(durationText(59.4) == "0:59")
        #expect(durationText(61) == "1:01")
        #expect(durationText(3600) == "1:00:00")
        #expect(durationText(-1) == "?")
        #expect(durationText(.infinity) == "?")
    }

    @Test func counts() {
        #expect(compactCount(950) == "950")
        #expect(compactCount(12_345) == "12k")
        #expect(compactCount(1_234) == "1.2k")
        #expect(compactCount(2_500_000) == "2.50M")
        #expect(compactCount(.nan) == "?")
        #expect(groupedCount(0) == "0")
        #expect(groupedCount(999) == "999")
        #expect(groupedCount(1_000) == "1,000")
        #expect(groupedCount(1_672_570) == "1,672,570")
        #expect(groupedCount(-12_345) == "-12,345")
    }

    @Test func barFillsInProportion() {
        // (fraction, filled cells of 10): whole cells; out-of-range fractions are clamped.
        for (f, cells) in [(0.0, 0), (0.5, 5), (1.0, 10), (2.0, 10), (-1.0, 0), (Double.nan, 0)] {
            let segments = LiveLine.bar(f, width: 10)
            let filled = segments.first { $0.style == "36" }?.text ?? ""
            #expect(filled.count == cells, "fraction \(f): \(filled)")
            #expect(segments.map(\.text).joined().count == (Console.unicode ? 10 : 12), "fraction \(f)")
        }
    }

    @Test func multiplyAddsPerLayer() {
        // The first layer of 784-30-10: 784 * 30 multiply-adds.
        let dense = Layer.dense(name: "fc1", inputs: 784, outputs: 30, activation: .sigmoid,
                                weights: [Float](repeating: 0, count: 30 * 784), bias: [Float](repeating: 0, count: 30))
        #expect(ModelJSON.multiplyAdds(dense) == 23_520)
        // 20 maps of 5x5 over one 28x28 channel: 20 * 24 * 24 outputs of 25 multiply-adds each.
        let conv = Layer.conv2d(name: "conv1", input: [1, 28, 28], maps: 20, kernel: [5, 5], activation: .linear,
                                weights: [Float](repeating: 0, count: 500), bias: [Float](repeating: 0, count: 20))
        #expect(ModelJSON.multiplyAdds(conv) == 288_000)
        #expect(ModelJSON.multiplyAdds(Layer.maxPool2d(name: "pool1", input: [20, 24, 24], pool: [2, 2])) == 0)
    }
}
