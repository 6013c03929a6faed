import ArgumentParser
import Foundation
import NNKernels
import NNModel

/// The `nnrt` command: train the book's networks, evaluate and inspect model files.
struct NNRT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nnrt",
        abstract: "Train the networks of 'Neural Networks and Deep Learning' and ship them as nnrt model files.",
        discussion: """
            Typical use:
              nnrt train --preset ch1 --out ch1.nnrt     train the book's chapter-1 network
              nnrt eval ch1.nnrt                         accuracy on the 10,000 MNIST test images
              nnrt classify ch1.nnrt scans/              label image files (PNG, JPEG, PGM)
              nnrt inspect ch1.nnrt                      what the model file holds
              nnrt ensemble a.nnrt b.nnrt c.nnrt --out abc.nnrt   members that vote
              nnrt report ch1.nnrt                       HTML report: curves, confusion matrix, errors
              nnrt presets                               the book's experiments and figures

            MNIST comes from --data DIR, else $MNIST_DIR, else a cache that nnrt fills from \
            the public mirrors on first use, verifying each file's SHA-256.

            Output: results go to standard output, progress and messages to standard error. \
            On a terminal, train, eval and classify show a progress bar with the time left \
            and images per second; piped, or with TERM=dumb, they print plain lines only. \
            NO_COLOR=1 turns colour off. Every command that prints results takes --quiet (-q: \
            the results only) and --json (JSON on standard output, one object per line; each \
            command's --help gives its fields).

            Shell completion: nnrt --generate-completion-script bash|zsh|fish prints the \
            script for that shell (scripts/completions.sh DIR writes all three).

            \(Exit.helpText)
            """,
        version: "nnrt \(NNRTVersion.string) (kernels: \(Kernels.active.name))",
        subcommands: [Train.self, Eval.self, Classify.self, Inspect.self, Import.self, EnsembleCommand.self, ReportCommand.self, PresetsCommand.self, Mnist.self]
    )
}

checkArgumentsAreUTF8()
do {
    var command = try NNRT.parseAsRoot()
    try command.run()
} catch {
    // Help, --version and completion scripts go to standard output (status 0); the commands'
    // own failures were reported already (an ExitCode); a bad command line becomes
    // "nnrt: error: ..." with the usage after it, status 64, like every other error.
    let status = NNRT.exitCode(for: error)
    let text = NNRT.fullMessage(for: error)
    if status == .success || error is ExitCode || text.isEmpty {
        NNRT.exit(withError: error)
    }
    let message = text.hasPrefix("Error: ") ? String(text.dropFirst("Error: ".count)) : text
    Console.error(message)
    exit(status.rawValue)
}
