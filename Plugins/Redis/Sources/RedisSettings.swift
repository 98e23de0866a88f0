import HyphaeCore
import NIOCore
import NIOPosix

/// The connection fields the `redis` sink and source share.
public struct RedisServerSettings: Sendable {
    public var url: String
    /// The name of an environment variable holding the password, so that it stays out of pipeline files.
    public var passwordVariable: String?
    public var caFile: String?
    public var connectTimeoutMilliseconds: Int

    init(reading config: inout ConfigReader) {
        url = config.string("url", default: "redis://127.0.0.1:6379", summary: "the server: redis://[:password@]host[:port][/db], or rediss:// for TLS")
        passwordVariable = config.optionalString("password_env", summary: "an environment variable that holds the password (AUTH); overrides a password in the URL")
        caFile = config.optionalString("ca_file", summary: "a PEM file of the certificates that sign the server's, for rediss:// (default: the system's trusted certificates)")
        connectTimeoutMilliseconds = config.int("connect_timeout_ms", default: 5000, min: 100, max: 120_000, summary: "how long one attempt to connect may take")
        if !config.isDescribing, config.contains("url") {
            do {
                _ = try RedisEndpoint(url: url)
            } catch {
                config.problem("url", error.description)
            }
        }
    }

    /// The endpoint and connection settings, with the password from the environment;
    /// throws when the environment or the CA file does not hold what the file says.
    func resolve() throws -> (RedisEndpoint, RedisConnectionSettings) {
        var endpoint = try RedisEndpoint(url: url)
        if let passwordVariable {
            guard let password = ProcessEnvironment.value(passwordVariable), !password.isEmpty else {
                throw StageError("password_env names \(passwordVariable), which is not set; export \(passwordVariable)=<the Redis password> before starting the host")
            }
            endpoint.password = password
        }
        var settings = RedisConnectionSettings(connectTimeout: .milliseconds(Int64(connectTimeoutMilliseconds)))
        if endpoint.usesTLS {
            do {
                settings.tls = try RedisConnectionSettings.tlsContext(caFile: caFile)
            } catch {
                throw StageError("cannot set up TLS for \(endpoint)\(caFile.map { " with ca_file \($0)" } ?? ""): \(error)")
            }
        } else if caFile != nil {
            throw StageError("ca_file is set but the url is redis://; write rediss:// to use TLS")
        }
        return (endpoint, settings)
    }
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
    }
}

/// The event loops every Redis connection of the process runs on.
enum RedisEventLoops {
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
