extension Diagnostic {
    /// A diagnostic as the admin API returns it.
    public var json: JSONValue {
        var object: JSONObject = ["severity": .string(severity.rawValue), "message": .string(message)]
        if let field { object["field"] = .string(field) }
        if let location {
            object["file"] = .string(location.file)
            object["line"] = .int(location.line)
            object["column"] = .int(location.column)
        }
        object["text"] = .string(description)
        return .object(object)
    }
}
