/// Tells a connection that the host is shutting down.
struct ServerShutdownEvent: Sendable {}
