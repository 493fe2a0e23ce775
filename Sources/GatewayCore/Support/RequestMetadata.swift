import Logging

/// The HTTP request a task works for, so that every line logged on its behalf carries its ID —
/// the engine's and the IMAP client's too, through loggers made once at start. The HTTP layer
/// sets it for the request's task (child tasks inherit it, and so does a job submitted by it);
/// the app's logger reads it through ``loggerMetadata``.
public enum RequestMetadata {
    @TaskLocal public static var requestID: String?

    /// Adds `requestId` to each line logged while ``requestID`` is set.
    public static let loggerMetadata = Logger.MetadataProvider {
        guard let id = requestID else { return [:] }
        return ["requestId": .string(id)]
    }
}
