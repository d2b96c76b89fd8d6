//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.OrtEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * ONNX Runtime's native libraries (28 MB), kept unpacked in the kit's .kit/onnxruntime/<key>/.
 * Left to itself ONNX Runtime inflates them from its jar into a fresh temporary folder on
 * every run and deletes them at exit: a third of a second of every ingest. The key is the
 * jar's path, size and time, so another ONNX Runtime unpacks afresh; a folder appears only
 * complete (unpacked beside it, then renamed). Without KIT_HOME (./jbang sets it), or when
 * anything here fails, ONNX Runtime unpacks as it always did.
 */
public final class OnnxRuntimeLibraries {
    private OnnxRuntimeLibraries() {}

    static final String PROPERTY = "onnxruntime.native.path";

    /**
     * Stack size for threads that call into ONNX Runtime: its set-up recurses deeply in native code,
     * and on a thread with the JVM's default 1 MB stack it can overflow and end the process without a word.
     */
    public static final long THREAD_STACK = 64L << 20;
    private static boolean done;

    /** ONNX Runtime's native libraries loaded (from the kit's unpacked copy) and its environment made, once per JVM. */
    public static OrtEnvironment environment() {
        useUnpacked();
        return OrtEnvironment.getEnvironment(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "kit");
    }

    /**
     * Loads the libraries and makes the environment on a thread of its own, then runs {@code alsoWarm}
     * there (other one-time set-up of the same command), for a command that will need them a few
     * tenths of a second later (while its command line is parsed and its files read). Writes nothing;
     * a failure here is met again, and reported, where it matters.
     */
    public static void warmUpInBackground(Runnable... alsoWarm) {
        Thread t = new Thread(null, () -> {
            try {
                environment();
                for (Runnable r : alsoWarm) r.run();
            } catch (Throwable ignored) {
                // met again where it matters
            }
        }, "warm-up", THREAD_STACK);
        t.setDaemon(true);
        t.start();
    }

    public static synchronized void useUnpacked() {
        if (done) return;
        done = true;
        if (System.getProperty(PROPERTY) != null) return;
        String home = System.getenv("KIT_HOME");
        String platform = platform();
        if (home == null || platform == null) return;
        try {
            java.net.URL jarUrl = OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation();
            Path jar = Path.of(jarUrl.toURI());
            if (!Files.isRegularFile(jar)) return;
            String[] names = {System.mapLibraryName("onnxruntime"), System.mapLibraryName("onnxruntime4j_jni")};
            String key = Integer.toHexString((jar.toAbsolutePath() + "|" + Files.size(jar) + "|" + Files.getLastModifiedTime(jar).toMillis()).hashCode());
            Path dir = Path.of(home, ".kit", "onnxruntime", platform + "-" + key);
            if (!Files.isDirectory(dir)) unpack(dir, platform, names);
            for (String n : names) if (!Files.isRegularFile(dir.resolve(n))) return;
            System.setProperty(PROPERTY, dir.toString());
        } catch (Exception | LinkageError e) {
            // ONNX Runtime's own unpacking still works: only slower
        }
    }

    private static void unpack(Path dir, String platform, String[] names) throws java.io.IOException {
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp");
        try {
            for (String n : names) {
                try (java.io.InputStream in = OrtEnvironment.class.getResourceAsStream("/ai/onnxruntime/native/" + platform + "/" + n)) {
                    if (in == null) return;
                    Files.copy(in, tmp.resolve(n));
                }
            }
            try {
                Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                // another run unpacked the same at the same time: its folder is as good
            }
        } finally {
            if (Files.isDirectory(tmp)) {
                try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
                    for (Path p : s.toList()) Files.deleteIfExists(p);
                }
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** ONNX Runtime's name for this machine's folder in its jar (linux-x64, osx-aarch64, ...); null: leave it to ONNX Runtime. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(java.util.Locale.ROOT);
        String o = os.contains("linux") ? "linux" : os.contains("mac") || os.contains("darwin") ? "osx" : null;
        String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch.startsWith("aarch64") ? "aarch64" : null;
        return o == null || a == null ? null : o + "-" + a;
    }
}
