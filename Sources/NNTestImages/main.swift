// nnrt-testimages: writes the test images of issue 5 from the MNIST test digits, so nothing is
// copied from elsewhere and anyone can regenerate them bit for bit.
//
//   nnrt-testimages --out DIR [--count N] [--start I] [--seed S] [--data MNIST_DIR] [--set SET]
//
// SET is "scanned" (the default: the two folders below), "mnist-png" (DIR/mnist-png/: the test
// digits themselves as 28x28 grey PNGs, for throughput) or "large-jpeg" (DIR/large-jpeg/: each
// digit photographed large on a 1000x1000 RGB page, JPEG quality 90, for throughput).
//
// DIR/scanned/: N "scanned" versions of test digits I..<I+N (NNImageSynthesis.scanVariant: scaled
//   up, off-centre on larger canvases, dark ink on paper, uneven light, noise, blur, RGB, RGBA,
//   16-bit), saved as PNG, JPEG, PGM or PPM by kind; DIR/scanned/labels.csv lists
//   file,label,kind,format,description with a header line.
// DIR/broken/: files that must fail, one way each, and DIR/broken/expected.csv with
//   file,status (the nnrt status name each must give) and what is wrong.
// MNIST comes from --data, else $MNIST_DIR, else the download cache (as the nnrt command).

import Foundation
import NNImageSynthesis
import NNImaging
import NNTrainer

struct Options {
    var out = ""
    var count = 10_000
    var start = 0
    var seed: UInt64 = 2026
    var data: String?
    var set = "scanned"
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("nnrt-testimages: \(message)\nusage: nnrt-testimages --out DIR [--count N] [--start I] [--seed S] [--data MNIST_DIR]\n".utf8))
    exit(64)
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        guard let v = args.popFirst() else { usage("\(a) needs a value") }
        switch a {
        case "--out": o.out = v
        case "--count": o.count = Int(v) ?? -1
        case "--start": o.start = Int(v) ?? -1
        case "--seed": o.seed = UInt64(v) ?? 0
        case "--data": o.data = v
        case "--set": o.set = v
        default: usage("unknown option \(a)")
        }
    }
    if o.out.isEmpty { usage("--out is required") }
    if !["scanned", "mnist-png", "large-jpeg"].contains(o.set) { usage("--set must be scanned, mnist-png or large-jpeg") }
    if o.count < 0 || o.start < 0 || o.start + o.count > 10_000 { usage("--start and --count must pick test digits within 0..<10000") }
    return o
}

func write(_ bytes: [UInt8], _ path: String) {
    do {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        FileHandle.standardError.write(Data("nnrt-testimages: cannot write \(path): \(error.localizedDescription)\n".utf8))
        exit(73)
    }
}

/// The container for a scan of `kind`: what a user of that kind of image would have.
func encode(_ image: RawImage, kind: ScanKind?, index: Int) throws(ImageError) -> (bytes: [UInt8], ext: String) {
    switch kind {
    case .paper, .uneven, .colour, .large:
        // Scans and photos: JPEG at a quality that varies with the index (70-95); every fourth
        // paper scan is a binary PGM, as scanner software writes.
        if kind == .paper && index % 4 == 1 { return (encodePGM(image, binary: true), "pgm") }
        return (try encodeJPEG(image, quality: 70 + (index * 7) % 26, progressive: index % 3 == 0), "jpg")
    case .deep:
        return index % 2 == 0 ? (try encodePNG(image), "png") : (encodePGM(image, binary: true), "pgm")
    case .chalkboard:
        return index % 2 == 0 ? (try encodePNG(image), "png") : (encodePGM(image, binary: index % 4 != 1), "ppm")
    case .clean:
        // Every fifth clean digit as an ASCII PGM.
        return index % 5 == 2 ? (encodePGM(image, binary: false), "pgm") : (try encodePNG(image), "png")
    default:
        return (try encodePNG(image), "png")
    }
}

// MARK: - Broken files

/// CRC-32 (ISO-HDLC, as PNG uses) of `bytes`.
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// `png` with its IHDR declaring width x height (CRC recomputed): a valid-looking bomb.
func withDeclaredSize(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
    var b = png
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    b.replaceSubrange(16..<20, with: bigEndian(width))
    b.replaceSubrange(20..<24, with: bigEndian(height))
    b.replaceSubrange(29..<33, with: bigEndian(crc32(b[12..<29])))
    return b
}

/// `jpeg` with its first SOF marker declaring width x height.
func jpegWithDeclaredSize(_ jpeg: [UInt8], width: UInt16, height: UInt16) -> [UInt8] {
    var b = jpeg
    var i = 2
    while i + 9 < b.count {
        guard b[i] == 0xFF else { break }
        let marker = b[i + 1]
        let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
        if (0xC0...0xC2).contains(marker) {
            b[i + 5] = UInt8(height >> 8); b[i + 6] = UInt8(height & 0xFF)
            b[i + 7] = UInt8(width >> 8); b[i + 8] = UInt8(width & 0xFF)
            return b
        }
        i += 2 + length
    }
    return b
}

func writeBroken(_ dir: String, sample: RawImage) throws(ImageError) {
    let png = try encodePNG(sample)
    let jpeg = try encodeJPEG(sample, quality: 90)
    let pgm = encodePGM(sample, binary: true)
    var expected: [(String, String, String)] = []
    func add(_ name: String, _ bytes: [UInt8], _ status: String, _ what: String) {
        write(bytes, dir + "/" + name)
        expected.append((name, status, what))
    }
    add("truncated.png", Array(png.prefix(png.count / 2)), "NNRT_ERR_IMAGE_DECODE", "a PNG cut in half")
    add("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)), "NNRT_ERR_IMAGE_DECODE", "a JPEG cut in half")
    add("truncated.pgm", Array(pgm.prefix(pgm.count - 100)), "NNRT_ERR_IMAGE_DECODE", "a PGM missing its last 100 pixels")
    add("empty.png", [], "NNRT_ERR_IMAGE_DECODE", "zero bytes")
    add("text.png", Array("This is a text file, not a PNG.\n".utf8), "NNRT_ERR_IMAGE_FORMAT", "a text file named .png")
    add("huge.png", withDeclaredSize(png, width: 100_000, height: 100_000), "NNRT_ERR_IMAGE_TOO_LARGE",
        "a PNG whose header declares 100000 x 100000 pixels")
    add("huge.jpg", jpegWithDeclaredSize(jpeg, width: 60_000, height: 60_000), "NNRT_ERR_IMAGE_TOO_LARGE",
        "a JPEG whose header declares 60000 x 60000 pixels")
    var badCRC = png
    badCRC[png.count - 20] ^= 0xFF   // inside the last IDAT chunk's data or CRC
    add("badcrc.png", badCRC, "NNRT_ERR_IMAGE_DECODE", "a PNG with a damaged chunk")
    var garbage: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]
    var rng = SplitMix64(seed: 7)
    for _ in 0..<2000 { garbage.append(UInt8(truncatingIfNeeded: rng.next())) }
    add("garbage.jpg", garbage, "NNRT_ERR_IMAGE_DECODE", "a JPEG signature followed by random bytes")
    do {
        try FileManager.default.createDirectory(atPath: dir + "/directory.png", withIntermediateDirectories: true)
    } catch {
        FileHandle.standardError.write(Data("nnrt-testimages: cannot create \(dir)/directory.png: \(error.localizedDescription)\n".utf8))
        exit(73)
    }
    expected.append(("directory.png", "NNRT_ERR_IO", "a directory named like an image"))
    expected.append(("missing.png", "NNRT_ERR_IO", "a file that does not exist"))
    let csv = "file,status,what\n" + expected.map { "\($0.0),\($0.1),\($0.2)" }.joined(separator: "\n") + "\n"
    write(Array(csv.utf8), dir + "/expected.csv")
}

// MARK: - Main

let options = parse()
let images: IDX.Array
let labels: IDX.Array
do {
    let paths = try MNIST.locate(directory: options.data, log: { line in
        FileHandle.standardError.write(Data("nnrt-testimages: \(line)\n".utf8))
    })
    images = try IDX.read(path: paths.testImages, rank: 3, limit: options.start + options.count)
    labels = try IDX.read(path: paths.testLabels, rank: 1, limit: options.start + options.count)
} catch {
    FileHandle.standardError.write(Data("nnrt-testimages: MNIST: \(error)\n".utf8))
    exit(66)
}
/// The throughput sets: plain 28x28 PNGs, or 1000x1000 RGB JPEG "photos".
func writeThroughputSet() throws(ImageError) {
    let dir = options.out + "/" + options.set
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        FileHandle.standardError.write(Data("nnrt-testimages: cannot create \(dir): \(error.localizedDescription)\n".utf8))
        exit(73)
    }
    var rows = ["file,label"]
    for i in options.start..<(options.start + options.count) {
        let digit = Array(images.bytes[(i * 784)..<((i + 1) * 784)])
        let label = Int(labels.bytes[i])
        let name: String
        if options.set == "mnist-png" {
            name = String(format: "%05d-%d.png", i, label)
            write(try encodePNG(RawImage(width: 28, height: 28, layout: .grey, maxValue: 255, samples: .eightBit(digit))!),
                  dir + "/" + name)
        } else {
            // A digit about 560 px tall on a 1000x1000 page, dark blue-black ink, a little noise.
            let recipe = ScanRecipe(scale: 20, canvasWidth: 1000, canvasHeight: 1000, originX: 150 + (i * 37) % 150,
                                    originY: 150 + (i * 53) % 150, paper: RGB(0.93, 0.92, 0.88), ink: RGB(0.08, 0.1, 0.22),
                                    blur: 0.3, noise: 0.015, colour: .rgb)
            name = String(format: "%05d-%d.jpg", i, label)
            write(try encodeJPEG(renderScan(digit, recipe, seed: options.seed &+ UInt64(i)), quality: 90), dir + "/" + name)
        }
        rows.append("\(name),\(label)")
    }
    write(Array((rows.joined(separator: "\n") + "\n").utf8), dir + "/labels.csv")
    print("nnrt-testimages: wrote \(options.count) images to \(dir)")
}

if options.set != "scanned" {
    do throws(ImageError) { try writeThroughputSet() } catch {
        FileHandle.standardError.write(Data("nnrt-testimages: encoding failed: \(error.message)\n".utf8))
        exit(70)
    }
    exit(0)
}

let scanned = options.out + "/scanned", broken = options.out + "/broken"
for dir in [scanned, broken] {
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        FileHandle.standardError.write(Data("nnrt-testimages: cannot create \(dir): \(error.localizedDescription)\n".utf8))
        exit(73)
    }
}
var rows = ["file,label,kind,format,description"]
var counts: [String: Int] = [:]
do throws(ImageError) {
    for i in options.start..<(options.start + options.count) {
        let digit = Array(images.bytes[(i * 784)..<((i + 1) * 784)])
        let label = Int(labels.bytes[i])
        let recipe = ScanRecipe.variant(index: i, seed: options.seed)
        let image = renderScan(digit, recipe, seed: options.seed &+ UInt64(i))
        let (bytes, ext) = try encode(image, kind: recipe.kind, index: i)
        let name = String(format: "%05d-%d.%@", i, label, ext)
        write(bytes, scanned + "/" + name)
        let kind = recipe.kind?.name ?? "custom"
        counts[ext, default: 0] += 1
        rows.append("\(name),\(label),\(kind),\(ext),\"\(recipe.description.replacingOccurrences(of: "\"", with: "'"))\"")
    }
    write(Array((rows.joined(separator: "\n") + "\n").utf8), scanned + "/labels.csv")
    let sample = renderScan(Array(images.bytes[0..<784]), ScanRecipe.variant(index: 1, seed: options.seed), seed: 1)
    try writeBroken(broken, sample: sample.layout == .grey ? sample : RawImage(width: 28, height: 28, layout: .grey, maxValue: 255,
                                                                                  samples: .eightBit(Array(images.bytes[0..<784])))!)
} catch {
    FileHandle.standardError.write(Data("nnrt-testimages: encoding failed: \(error.message)\n".utf8))
    exit(70)
}
print("nnrt-testimages: wrote \(options.count) scanned digits to \(scanned) ("
      + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ") and the broken files to \(broken)")
