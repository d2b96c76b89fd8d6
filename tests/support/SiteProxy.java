import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A forwarding proxy in front of the real local site that lets a test act as a person on the
 * site at an exact moment: after it has relayed the n-th request for a path, and before the kit
 * gets that answer, it runs the test's action (e.g. an admin's edit of the site's files on disk).
 * Everything else is passed through unchanged; every request is logged as "METHOD /path".
 */
public final class SiteProxy implements AutoCloseable {
    /** What to do once the n-th request for a path has been answered by the site. */
    public interface AfterAnswer {
        void run(String method, String path, int nth) throws IOException;
    }

    private final HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();
    private final String upstream;
    private final AfterAnswer after;
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    public final List<String> requests = new CopyOnWriteArrayList<>();

    private SiteProxy(String upstream, AfterAnswer after) throws IOException {
        this.upstream = upstream;
        this.after = after;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "site-proxy");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", this::relay);
        server.start();
    }

    public static SiteProxy start(String upstreamUrl, AfterAnswer after) throws IOException {
        return new SiteProxy(upstreamUrl, after);
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** How many requests for {@code path} were relayed, whatever their method. */
    public int count(String path) {
        AtomicInteger n = counts.get(path);
        return n == null ? 0 : n.get();
    }

    private void relay(HttpExchange ex) throws IOException {
        boolean answered = false;
        try {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getRawPath();
            String query = ex.getRequestURI().getRawQuery();
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readAllBytes();
            }
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream + path + (query == null ? "" : "?" + query)))
                    .method(method, body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
            for (String h : List.of("Authorization", "Content-Type", "User-Agent")) {
                String v = ex.getRequestHeaders().getFirst(h);
                if (v != null) b.header(h, v);
            }
            requests.add(method + " " + path);
            HttpResponse<byte[]> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            int nth = counts.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
            after.run(method, path, nth);
            resp.headers().firstValue("Content-Type").ifPresent(v -> ex.getResponseHeaders().set("Content-Type", v));
            answered = true;
            ex.sendResponseHeaders(resp.statusCode(), resp.body().length == 0 ? -1 : resp.body().length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(resp.body());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            // A failing test action must not look like a site that hangs: the kit gets a 502.
            System.err.println("SiteProxy: " + e);
        } finally {
            if (!answered) ex.sendResponseHeaders(502, -1);
            ex.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
