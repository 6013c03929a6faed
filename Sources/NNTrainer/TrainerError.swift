/// An error from the trainer, with a one-line message a user can act on (it names the file,
/// the shape or the setting that is wrong).
public struct TrainerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// A parameter or configuration value is out of range.
        case invalidArgument
        /// A file could not be opened, read or written.
        case io
        /// A file's contents are malformed (bad magic number, wrong size, bad JSON shape, ...).
        case format
        /// A downloaded or cached file does not have the expected SHA-256.
        case checksum
        /// No mirror could provide a file.
        case download
        /// The model or setting is valid but not something this trainer can handle.
        case unsupported
        /// A bug or an unexpected failure of a system library.
        case `internal`
        /// The host asked the run to stop (`shouldStop` returned true): training stopped at a
        /// mini-batch boundary and, given a checkpoint path, saved that exact point there, so
        /// `resumeTraining` continues it to the weights of an uninterrupted run.
        case interrupted
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
