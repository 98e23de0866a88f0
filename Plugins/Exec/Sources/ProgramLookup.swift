import Foundation

/// Finds the file a command's first word names, the way a shell would: a name with
/// a `/` is a path (relative ones against the program's working directory), any
/// other name is looked up in each folder of PATH in turn.
///
/// It runs when the pipeline file is validated, so that a typo in `command` is an
/// error with the file's line, not a failure at the first frame.
enum ProgramLookup {
    struct NotFound: Error, CustomStringConvertible {
        var description: String
    }

    static func resolve(_ name: String, searchPath: String, workingDirectory: String) throws(NotFound) -> String {
        guard !name.isEmpty else {
            throw NotFound(description: "the program's name is empty; give a program such as python3, or its path")
        }
        if name.contains("/") {
            let path = absolute(name, against: workingDirectory)
            guard isRunnable(path) else {
                throw NotFound(description: "no program at '\(path)'; check the path (relative paths start from the working directory, '\(workingDirectory)') and that the file is executable")
            }
            return path
        }
        // An empty PATH entry means the working directory to a shell; running files
        // from the working directory without saying so is a trap, so it is skipped.
        for folder in searchPath.split(separator: ":") where !folder.isEmpty {
            let candidate = absolute(String(folder), against: workingDirectory) + "/" + name
            if isRunnable(candidate) { return candidate }
        }
        throw NotFound(description: "no program '\(name)' on PATH (\(searchPath)); install it, correct the name, or give its path")
    }

    static func absolute(_ path: String, against folder: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: folder).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    private static func isRunnable(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return false }
        return FileManager.default.isExecutableFile(atPath: path)
    }
}
