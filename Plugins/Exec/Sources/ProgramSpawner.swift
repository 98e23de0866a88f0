#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a program with `posix_spawn`, as a shell would leave it: no signal
/// blocked, every signal's disposition the default, in a process group of its own,
/// with only its three standard streams open, in its working directory.
///
/// Foundation's `Process` is not used because it starts programs with the signal
/// mask of the calling thread, and the threads Swift concurrency runs on block
/// nearly every signal: its programs ignored SIGTERM, and SIGINT, for good.
enum ProgramSpawner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` with `arguments` (the first is the program's own name)
    /// and returns its process id. The descriptors become its 0, 1 and 2.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String], workingDirectory: String,
        input: CInt, output: CInt, error: CInt
    ) throws(Failure) -> pid_t {
        var actions = FileActions()
        defer { actions.destroy() }
        var attributes = Attributes()
        defer { attributes.destroy() }

        for (descriptor, target) in [(input, CInt(0)), (output, 1), (error, 2)] {
            try check(actions.dup2(descriptor, target), "posix_spawn_file_actions_adddup2")
        }
        try actions.closeFrom(3)
        try actions.changeDirectory(to: workingDirectory)
        try attributes.configure()

        var pid: pid_t = 0
        let argv = CStringArray(arguments)
        defer { argv.release() }
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        defer { envp.release() }
        let result = actions.withPointer { actionsPointer in
            attributes.withPointer { attributesPointer in
                posix_spawn(&pid, executable, actionsPointer, attributesPointer, argv.pointers, envp.pointers)
            }
        }
        guard result == 0 else {
            throw Failure(description: "\(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    private static func check(_ result: CInt, _ call: String) throws(Failure) {
        guard result == 0 else { throw Failure(description: "\(call): \(String(cString: strerror(result)))") }
    }

    /// NUL-terminated strings in a NULL-terminated array, as `execve` takes them.
    private struct CStringArray {
        let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
        let count: Int

        init(_ strings: [String]) {
            count = strings.count
            pointers = .allocate(capacity: strings.count + 1)
            for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
            pointers[strings.count] = nil
        }

        func release() {
            for index in 0..<count { free(pointers[index]) }
            pointers.deallocate()
        }
    }

    #if os(Linux)
    /// The `_np` file actions are not in the headers Swift imports on Linux; they are
    /// in every C library this runs on (glibc 2.29 and 2.34, musl 1.1.24 and 1.2.2).
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> CInt
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt

    private static let changeDirectoryAction = lookUp("posix_spawn_file_actions_addchdir_np", as: ChangeDirectory.self)
    private static let closeFromAction = lookUp("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self)

    private static func lookUp<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(dlopen(nil, RTLD_NOW), name).map { unsafeBitCast($0, to: type) }
    }

    private struct FileActions {
        private var actions = posix_spawn_file_actions_t()

        init() { posix_spawn_file_actions_init(&actions) }

        mutating func destroy() { posix_spawn_file_actions_destroy(&actions) }

        mutating func dup2(_ descriptor: CInt, _ target: CInt) -> CInt {
            posix_spawn_file_actions_adddup2(&actions, descriptor, target)
        }

        mutating func closeFrom(_ lowest: CInt) throws(Failure) {
            if let closeFromAction {
                try check(closeFromAction(&actions, lowest), "posix_spawn_file_actions_addclosefrom_np")
                return
            }
            // An older C library: close what is open now, one by one. A close that
            // finds the descriptor already gone is not an error to posix_spawn.
            for descriptor in ProgramSpawner.openDescriptors() where descriptor >= lowest {
                try check(posix_spawn_file_actions_addclose(&actions, descriptor), "posix_spawn_file_actions_addclose")
            }
        }

        mutating func changeDirectory(to path: String) throws(Failure) {
            guard let changeDirectoryAction else {
                throw Failure(description: "this C library cannot start a program in a working directory (posix_spawn_file_actions_addchdir_np is missing; glibc 2.29 or later has it)")
            }
            try check(changeDirectoryAction(&actions, path), "posix_spawn_file_actions_addchdir_np")
        }

        mutating func withPointer<Result>(_ body: (UnsafePointer<posix_spawn_file_actions_t>) -> Result) -> Result {
            withUnsafePointer(to: &actions) { body($0) }
        }
    }

    private struct Attributes {
        private var attributes = posix_spawnattr_t()

        init() { posix_spawnattr_init(&attributes) }

        mutating func destroy() { posix_spawnattr_destroy(&attributes) }

        mutating func configure() throws(Failure) {
            var none = sigset_t()
            sigemptyset(&none)
            var all = sigset_t()
            sigfillset(&all)
            try check(posix_spawnattr_setsigmask(&attributes, &none), "posix_spawnattr_setsigmask")
            try check(posix_spawnattr_setsigdefault(&attributes, &all), "posix_spawnattr_setsigdefault")
            try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
            let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP
            try check(posix_spawnattr_setflags(&attributes, Int16(flags)), "posix_spawnattr_setflags")
        }

        mutating func withPointer<Result>(_ body: (UnsafePointer<posix_spawnattr_t>) -> Result) -> Result {
            withUnsafePointer(to: &attributes) { body($0) }
        }
    }
    #else
    private struct FileActions {
        private var actions: posix_spawn_file_actions_t?

        init() { posix_spawn_file_actions_init(&actions) }

        mutating func destroy() { posix_spawn_file_actions_destroy(&actions) }

        mutating func dup2(_ descriptor: CInt, _ target: CInt) -> CInt {
            posix_spawn_file_actions_adddup2(&actions, descriptor, target)
        }

        /// POSIX_SPAWN_CLOEXEC_DEFAULT (set with the attributes) closes the rest.
        mutating func closeFrom(_ lowest: CInt) throws(Failure) {}

        mutating func changeDirectory(to path: String) throws(Failure) {
            try check(posix_spawn_file_actions_addchdir_np(&actions, path), "posix_spawn_file_actions_addchdir_np")
        }

        mutating func withPointer<Result>(_ body: (UnsafePointer<posix_spawn_file_actions_t?>) -> Result) -> Result {
            withUnsafePointer(to: &actions) { body($0) }
        }
    }

    private struct Attributes {
        private var attributes: posix_spawnattr_t?

        init() { posix_spawnattr_init(&attributes) }

        mutating func destroy() { posix_spawnattr_destroy(&attributes) }

        mutating func configure() throws(Failure) {
            var none = sigset_t()
            sigemptyset(&none)
            var all = sigset_t()
            sigfillset(&all)
            try check(posix_spawnattr_setsigmask(&attributes, &none), "posix_spawnattr_setsigmask")
            try check(posix_spawnattr_setsigdefault(&attributes, &all), "posix_spawnattr_setsigdefault")
            try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
            let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_CLOEXEC_DEFAULT
            try check(posix_spawnattr_setflags(&attributes, Int16(flags)), "posix_spawnattr_setflags")
        }

        mutating func withPointer<Result>(_ body: (UnsafePointer<posix_spawnattr_t?>) -> Result) -> Result {
            withUnsafePointer(to: &attributes) { body($0) }
        }
    }
    #endif

    /// The descriptors this process has open, from /proc/self/fd.
    static func openDescriptors() -> [CInt] {
        guard let folder = opendir("/proc/self/fd") else { return [] }
        defer { closedir(folder) }
        var descriptors: [CInt] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let descriptor = CInt(name) { descriptors.append(descriptor) }
        }
        return descriptors
    }
}
