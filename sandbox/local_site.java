///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java
//SOURCES localsite/SiteHttpApi.java localsite/SiteStaging.java localsite/SiteDocuments.java localsite/PythonWire.java

/*
 * A local stand-in for the production site's sync API (spec/production-sync-api.md), serving a
 * folder laid out like production's data folder: DIR/identities.json, DIR/photo_index.json,
 * DIR/annotations.json, DIR/pending_uploads.json and DIR/staging/<job>/... It is the peer of every
 * test and of the sandbox run, so it answers exactly as production does: same status codes, same
 * text and JSON bodies, same <name>.bak.<unix-ts> copies before a push overwrites a file.
 * Where production's own code has a foot-gun (an empty path in a clear wipes all of staging, a
 * push half-written when its second document is bad), this stand-in refuses instead; the kit must
 * never rely on either.
 *
 * This file is the command line and the in-process entry (start, Running, stageUpload); the API
 * is localsite/SiteHttpApi.java, the folder's staging area localsite/SiteStaging.java, its
 * documents localsite/SiteDocuments.java.
 *
 * It listens on 127.0.0.1 only. The token is RHODESLI_SYNC_TOKEN (environment or .env); without
 * one every authenticated endpoint answers 503, as production does.
 *
 * Options:  --root DIR   the site's data folder (required)
 *           --port N     the port (default 8765; 0 = any free port)
 *           --json       print {"url", "port", "root", "token_configured"} on stdout; the request log goes to stderr
 * Example:  ./jbang sandbox/local_site.java --root sandbox/work/site --port 8765
 */
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "local-site", mixinStandardHelpOptions = true,
        description = {"A local stand-in for the production site's sync API, serving DIR (identities.json,",
                "photo_index.json, annotations.json, pending_uploads.json, staging/<job>/...) on 127.0.0.1",
                "until stopped with Ctrl+C. The token is RHODESLI_SYNC_TOKEN (environment or .env); without",
                "one every authenticated endpoint answers 503, as production does.", "",
                "Example: ./jbang sandbox/local_site.java --root sandbox/work/site --port 8765",
                "         then point the kit at it: RHODESLI_SITE_URL=http://127.0.0.1:8765"})
public class local_site implements Callable<Integer> {
    static final int DEFAULT_PORT = 8765;

    @Option(names = "--root", paramLabel = "DIR", description = "the site's data folder to serve (required)")
    Path root;

    @Option(names = "--port", paramLabel = "N", description = "the port to listen on (default: " + DEFAULT_PORT + "; 0 = any free port)")
    int port = DEFAULT_PORT;

    @Option(names = "--json", description = "print one JSON object {url, port, root, token_configured} on stdout; the log goes to stderr")
    boolean json;

    public static void main(String... argv) {
        StepMain.exit(new local_site(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (root == null) throw new StepMain.UsageException("--root DIR is required");
        if (port < 0 || port > 65535) throw new StepMain.UsageException("--port needs a port number from 0 to 65535, not " + port);
        Console console = Console.standard(json);
        KitConfig config = KitConfig.load();
        for (String w : config.warnings()) console.warn(w);
        Path dir = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new KitException(dir + " is not a folder",
                    "create it (it may start empty) or point --root at a folder laid out like the site's data folder");
        }
        String token = config.get(KitConfig.SYNC_TOKEN);
        Running site;
        try {
            DateTimeFormatter clock = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(java.time.ZoneId.systemDefault());
            site = start(dir, port, token, line -> console.info(clock.format(Instant.now()) + "  " + line));
        } catch (BindException e) {
            throw new KitException("port " + port + " on 127.0.0.1 is already in use",
                    "stop what runs there, or choose another port with --port N (0 = any free port)", e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(site::close));

        ObjectNode summary = JsonFiles.object();
        summary.put("url", site.url());
        summary.put("port", site.port());
        summary.put("root", dir.toString());
        summary.put("token_configured", token != null);
        console.emitJson(summary);
        console.info("Local site serving " + dir);
        console.info("Listening on " + site.url() + "   (point the kit at it: RHODESLI_SITE_URL=" + site.url() + ")");
        if (token == null) {
            console.warn(KitConfig.SYNC_TOKEN + " is not set: every endpoint but /api/sync/status answers 503, as production does");
        } else {
            console.info(config.describe(KitConfig.SYNC_TOKEN) + " (clients must send it as 'Authorization: Bearer ...')");
        }
        for (String name : List.of("identities.json", "photo_index.json")) {
            if (!Files.exists(dir.resolve(name))) console.info("(no " + name + " yet: its endpoint answers 404 until a push writes it)");
        }
        console.info("Press Ctrl+C to stop.");
        new CountDownLatch(1).await(); // serve until the process is killed; the hook stops the server
        return StepMain.OK;
    }

    /** A running site; {@link #close()} stops it. */
    public static final class Running implements AutoCloseable {
        private final HttpServer server;
        private final ExecutorService pool;
        private final SiteHttpApi site;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        private Running(HttpServer server, ExecutorService pool, SiteHttpApi site) {
            this.server = server;
            this.pool = pool;
            this.site = site;
        }

        /** "http://127.0.0.1:<port>", no trailing slash, as RHODESLI_SITE_URL wants it. */
        public String url() {
            return "http://127.0.0.1:" + port();
        }

        public int port() {
            return server.getAddress().getPort();
        }

        public Path root() {
            return site.root;
        }

        @Override
        public void close() {
            if (closed.getAndSet(true)) return; // a test's close and a shutdown hook may both call it
            server.stop(0);
            pool.shutdownNow();
        }
    }

    /** Starts a site serving {@code root} on 127.0.0.1 ({@code port} 0 = a free port); null token = 503 mode. */
    public static Running start(Path root, int port, String tokenOrNull) throws IOException {
        return start(root, port, tokenOrNull, null);
    }

    /** As {@link #start(Path, int, String)}, with each request logged as one line to {@code log} (may be null). */
    public static Running start(Path root, int port, String tokenOrNull, Consumer<String> log) throws IOException {
        SiteHttpApi site = new SiteHttpApi(root.toAbsolutePath().normalize(), tokenOrNull == null || tokenOrNull.isEmpty() ? null : tokenOrNull, log);
        // The JDK server writes headers and body separately; without TCP_NODELAY each small answer
        // waits ~40 ms for a delayed ACK. Read once per JVM, so it must be set before the first server.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        AtomicInteger n = new AtomicInteger();
        // A small host, like production's: a few workers, so a slow download does not block the listing.
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "local-site-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", site::handle);
        server.start();
        return new Running(server, pool, site);
    }

    /**
     * Lays out one upload job as the site's upload form does: the files in staging/<jobId>/ (spaces
     * and '/' in names replaced by '_', as the site does), its _metadata.json, and a "staged" entry
     * in pending_uploads.json. Returns the job's folder.
     */
    public static Path stageUpload(Path root, String jobId, String source, String collection, Map<String, byte[]> files) throws IOException {
        return SiteStaging.stageUpload(root, jobId, source, collection, files);
    }
}
