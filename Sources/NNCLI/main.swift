import ArgumentParser
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

            MNIST comes from --data DIR, else $MNIST_DIR, else a cache that nnrt fills from the \
            public mirrors on first use, verifying each file's SHA-256.

            \(Exit.helpText)
            """,
        version: "nnrt \(NNRTVersion.string) (kernels: \(Kernels.active.name))",
        subcommands: [Train.self, Eval.self, Classify.self, Inspect.self, Import.self, EnsembleCommand.self, ReportCommand.self, PresetsCommand.self, Mnist.self]
    )
}

checkArgumentsAreUTF8()
NNRT.main()
