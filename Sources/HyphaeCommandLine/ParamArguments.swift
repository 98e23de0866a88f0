import ArgumentParser
import HyphaeCore

/// One `--param name=value`, split at its first `=` but not yet typed: what the
/// value means depends on whether the pipeline's declarations are at hand.
struct ParamAssignment: Sendable, Equatable {
    var name: String
    var text: String

    /// Splits `name=value`; the value may be empty and may itself contain `=`.
    init(parsing argument: String) throws(ParamSyntaxError) {
        guard let separator = argument.firstIndex(of: "="), separator != argument.startIndex else {
            throw ParamSyntaxError()
        }
        name = String(argument[..<separator])
        text = String(argument[argument.index(after: separator)...])
    }

    /// The value read without a declaration to go by: JSON when it parses
    /// (`5`, `0.5`, `true`, `[1,2]`, `"007"`), otherwise the text itself.
    var untypedValue: JSONValue {
        (try? JSONParser.parse(text)) ?? .string(text)
    }
}

/// A `--param` argument without a name before its `=`.
struct ParamSyntaxError: Error, CustomStringConvertible {
    var description: String {
        "expected name=value, e.g. --param rate=5"
    }
}

/// The `--param name=value` options of every command that starts or subscribes to a
/// pipeline (`tap`, `subscribe`, `bench run`): one syntax, one set of errors, and
/// values typed by the pipeline's declarations wherever those are known.
struct ParamArguments: ParsableArguments {
    @Option(
        name: .customLong("param"),
        help: ArgumentHelp(
            "Set a param, as name=value (repeatable).",
            discussion: """
                Where the pipeline file is read here (tap), a value is read by the param's declared type: \
                rate=5, on=yes, colours=red,blue. Sent to a host (subscribe, bench run), a value is read as \
                JSON when it parses, else as text, and the host checks it: write label='"123"' to send \
                digits as a string.
                """,
            valueName: "name=value"
        ),
        transform: { try ParamAssignment(parsing: $0) }
    )
    var assignments: [ParamAssignment] = []

    func validate() throws {
        var seen = Set<String>()
        for assignment in assignments where !seen.insert(assignment.name).inserted {
            throw ValidationError("--param '\(assignment.name)' is given more than once; give each param once")
        }
    }

    /// The values to send to a host, which checks them against its own declarations.
    var untypedValues: JSONObject {
        var values = JSONObject()
        for assignment in assignments {
            values[assignment.name] = assignment.untypedValue
        }
        return values
    }

    /// The values read by `definition`'s declarations. A param the pipeline does not
    /// declare, or a value its type refuses, is a mistake on the command line.
    func values(declaredBy definition: PipelineDefinition) throws(ValidationError) -> JSONObject {
        var values = JSONObject()
        for assignment in assignments {
            guard let declaration = definition.param(named: assignment.name) else {
                let names = definition.params.map(\.name)
                let allowed = names.isEmpty ? "it takes no params" : "allowed: \(names.joined(separator: ", "))"
                throw ValidationError("'\(definition.name)' has no param '\(assignment.name)'\(Suggestions.didYouMean(assignment.name, in: names)) (\(allowed))")
            }
            switch declaration.value(fromCommandLine: assignment.text) {
            case .success(let value): values[assignment.name] = value
            case .failure(let error): throw ValidationError(error.description)
            }
        }
        return values
    }
}
