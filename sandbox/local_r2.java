///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS org.gaul:s3proxy:4.1.0
//DEPS com.google.guava:guava:33.7.1-jre
//DEPS org.slf4j:slf4j-api:2.0.18
//DEPS ch.qos.logback:logback-classic:1.6.3
//DEPS jakarta.servlet:jakarta.servlet-api:6.0.0
//DEPS com.fasterxml.jackson.core:jackson-annotations:2.22
//SOURCES ../lib/KitException.java ../lib/StepMain.java
// The pins above (guava, slf4j, logback, servlet, jackson-annotations) are the versions S3Proxy 4.1.0
// needs; without them JBang's resolution picks older ones from its other dependencies and it fails at run time.

/*
 * A local stand-in for Cloudflare R2: an S3-compatible server (S3Proxy) that keeps its objects
 * as plain files under a folder of this machine. Use it to try step 5 (upload) without a
 * Cloudflare account, and in the tests. It listens on 127.0.0.1 only, with fixed credentials
 * that it prints (they protect nothing: this store is for local trials).
 *
 * Options:  --root DIR      where objects are kept: DIR/<bucket>/<key> (created if needed)
 *           --port N        the port on 127.0.0.1 (default 9000; 0 = any free port)
 *           --bucket NAME   create this bucket if it does not exist yet
 *           --verbose       show S3Proxy's own log (one line per request)
 * Example:  ./jbang sandbox/local_r2.java --root /tmp/r2 --port 9000 --bucket rhodesli-photos
 *           then paste the printed R2_* lines into .env and run ./jbang steps/upload_to_r2.java
 *
 * Other code starts it in-process:
 *   try (local_r2.Running store = local_r2.start(dir, 0, "photos")) { store.endpoint() ... }
 */
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "local-r2", mixinStandardHelpOptions = true,
        description = {"A local S3-compatible store standing in for Cloudflare R2 (S3Proxy, objects kept as files",
                "under DIR/<bucket>/). Prints the endpoint, credentials and the R2_* lines for .env, then",
                "serves on 127.0.0.1 until stopped with Ctrl-C.", "",
                "Example: ./jbang sandbox/local_r2.java --root /tmp/r2 --port 9000 --bucket rhodesli-photos"})
public class local_r2 implements Callable<Integer> {
    /** Fixed, printed, local-only credentials: anything that can reach 127.0.0.1 here may use them. */
    public static final String ACCESS_KEY = "local-r2-access-key";
    public static final String SECRET_KEY = "local-r2-secret-key-not-a-real-secret";

    @Option(names = "--root", paramLabel = "DIR", required = true, description = "folder where the objects are kept (required)")
    Path rootDir;

    @Option(names = "--port", paramLabel = "N", defaultValue = "9000", description = "port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0 = any free port)")
    int portOption;

    @Option(names = "--bucket", paramLabel = "NAME", description = "create this bucket if missing")
    String bucketOption;

    @Option(names = "--verbose", description = "show S3Proxy's own log")
    boolean verboseOption;

    /** A running store; close() stops it (the files stay). */
    public static final class Running implements AutoCloseable {
        private final S3Proxy proxy;
        private final BlobStore blobs;
        private final Path root;
        private final int port;

        private Running(S3Proxy proxy, BlobStore blobs, Path root, int port) {
            this.proxy = proxy;
            this.blobs = blobs;
            this.root = root;
            this.port = port;
        }

        public String endpoint() {
            return "http://127.0.0.1:" + port;
        }

        public int port() {
            return port;
        }

        public String accessKey() {
            return ACCESS_KEY;
        }

        public String secretKey() {
            return SECRET_KEY;
        }

        /** The folder holding the buckets (one sub-folder each). */
        public Path root() {
            return root;
        }

        /** Creates {@code bucket} unless it exists already. */
        public void createBucket(String bucket) {
            if (!blobs.containerExists(bucket)) blobs.createContainer(bucket);
        }

        @Override
        public void close() {
            try {
                proxy.stop();
            } catch (Exception e) {
                // Stopping a local test server cannot lose data; say so only when debugging.
                if ("1".equals(System.getenv("KIT_DEBUG"))) e.printStackTrace();
            } finally {
                blobs.close();
            }
        }
    }

    public static void main(String... argv) {
        StepMain.exit(new local_r2(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (portOption < 0 || portOption > 65535) throw new StepMain.UsageException("--port must be between 0 and 65535");
        Path root = rootDir.toAbsolutePath().normalize();
        String bucket = bucketOption;
        int port = portOption;
        if (verboseOption) verbose = true;
        Running store = start(root, port, bucket);
        Runtime.getRuntime().addShutdownHook(new Thread(store::close));
        System.out.println("Local R2 stand-in (S3Proxy) serving " + root);
        System.out.println("  endpoint    " + store.endpoint());
        System.out.println("  access key  " + store.accessKey());
        System.out.println("  secret key  " + store.secretKey());
        System.out.println("  bucket      " + (bucket == null ? "(none created; pass --bucket NAME)" : bucket));
        System.out.println();
        System.out.println("Lines for .env (R2_ENDPOINT_URL replaces the Cloudflare endpoint built from R2_ACCOUNT_ID):");
        System.out.println("R2_ENDPOINT_URL=" + store.endpoint());
        System.out.println("R2_ACCESS_KEY_ID=" + store.accessKey());
        System.out.println("R2_SECRET_ACCESS_KEY=" + store.secretKey());
        System.out.println("R2_BUCKET_NAME=" + (bucket == null ? "<bucket>" : bucket));
        System.out.println();
        System.out.println("Serving until stopped (Ctrl-C).");
        System.out.flush();
        new CountDownLatch(1).await();
        return StepMain.OK;
    }

    private static volatile boolean verbose;

    /**
     * Starts a store on 127.0.0.1:{@code port} (0 = a free port) keeping its objects under
     * {@code root}, and creates {@code bucketOrNull} when given.
     */
    public static Running start(Path root, int port, String bucketOrNull) throws Exception {
        setLogLevel();
        Files.createDirectories(root);
        BlobStore blobs = new FilesystemNio2BlobStore(root.toString());
        S3Proxy proxy = S3Proxy.builder()
                .blobStore(blobs)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        try {
            proxy.start();
            // start() returns while Jetty may still be binding; the real port is known once it runs.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!"STARTED".equals(proxy.getState())) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("S3Proxy did not start within 10 s");
                Thread.sleep(10);
            }
        } catch (Exception e) {
            blobs.close();
            String why = String.valueOf(e.getMessage());
            if (e instanceof java.io.IOException || why.contains("Address already in use")) {
                throw new KitException("cannot listen on 127.0.0.1:" + port + " (" + why + ")",
                        "another program uses that port: pick another with --port, or 0 for any free port", e);
            }
            throw e;
        }
        Running store = new Running(proxy, blobs, root, proxy.getPort());
        if (bucketOrNull != null) store.createBucket(bucketOrNull);
        return store;
    }

    /** S3Proxy and its libraries log every request (and Jetty its internals); only problems are worth showing. */
    private static void setLogLevel() {
        // With several SLF4J providers on one class path (tests, benchmarks: ObjectStore brings slf4j-nop),
        // name one so SLF4J does not print warnings; whichever code starts first decides.
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.internal.verbosity", "WARN");
            System.setProperty("slf4j.provider", "ch.qos.logback.classic.spi.LogbackServiceProvider");
        }
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(verbose ? Level.INFO : Level.WARN);
        }
    }
}
