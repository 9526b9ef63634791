import COpenBLAS
import GraftCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide settings of the BLAS library the runtime computes on (OpenBLAS).
public enum Runtime {
    /// Sets the number of threads OpenBLAS uses for every following GEMM (1 = single-threaded).
    /// Without a call, OpenBLAS' own default applies (`OPENBLAS_NUM_THREADS`, else one thread
    /// per core). Values below 1 are read as 1.
    public static func setThreadCount(_ count: Int) {
        BLASKernels.prepare()
        openblas_set_num_threads(Int32(clamping: max(count, 1)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int {
        BLASKernels.prepare()
        return Int(openblas_get_num_threads())
    }

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell").
    public static var blasCoreName: String {
        BLASKernels.prepare()
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}

/// Makes sure OpenBLAS runs the kernels this CPU can: OpenBLAS builds with runtime CPU
/// detection before 0.3.25 fall back to their SSE3 "Prescott" kernels on Intel models they do
/// not know (OpenBLAS issue #4267, fixed by PR #4268), e.g. Emerald/Sapphire Rapids with
/// OpenBLAS 0.3.21 (Debian 12): GEMM then runs 4–6× below the machine's peak. When the user
/// has not chosen a core (`OPENBLAS_CORETYPE`), the detected core is weaker than the CPU's
/// vector level and the library exposes its dynamic-arch entry points, the core is chosen
/// again as SkylakeX (AVX-512) or Haswell (AVX2 + FMA). Runs once, before the first GEMM.
enum BLASKernels {
    private static let prepared: Bool = {
        selectCore()
        return true
    }()

    static func prepare() { _ = prepared }

    /// The vector level an OpenBLAS core family uses (3 AVX-512, 2 AVX2, 1 older), by name.
    static func level(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 3
        case "haswell", "zen", "excavator", "steamroller": return 2
        default: return 1
        }
    }

    private static func selectCore() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let current = openblas_get_corename() else { return }
        let cpu = Int(graft_cpu_vector_level())
        guard cpu > level(ofCore: String(cString: current)) else { return }
        // gotoblas_dynamic_quit/init exist only in DYNAMIC_ARCH builds: look them up.
        guard let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"),
              let initialize = dlsym(handle, "gotoblas_dynamic_init") else { return }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", cpu >= 3 ? "SkylakeX" : "Haswell", 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
        unsetenv("OPENBLAS_CORETYPE")
    }
}
