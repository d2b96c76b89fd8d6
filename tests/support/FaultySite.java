import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * A deliberately misbehaving HTTP server on 127.0.0.1 for fault tests. It speaks just enough
 * HTTP/1.1 by hand (one request per connection) so that a test can make it do what a real
 * server on a bad day does: answer errors, reset the connection mid-body, send fewer bytes
 * than promised, or stall.
 */
public final class FaultySite implements AutoCloseable {
    /** A request as received: method, decoded path, headers' Authorization, body. */
    public record Request(String method, String rawPath, String path, String authorization, byte[] body) {}

    /** What to do with one request. */
    public interface Reply {
        void write(OutputStream out, Socket socket) throws IOException, InterruptedException;
    }

    private final ServerSocket server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "faulty-site");
        t.setDaemon(true);
        return t;
    });
    public final List<Request> requests = new CopyOnWriteArrayList<>();
    private volatile Function<Request, Reply> handler;

    public FaultySite(Function<Request, Reply> handler) throws IOException {
        this.handler = handler;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pool.submit(this::acceptLoop);
    }

    public String url() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    public long count(String pathPrefix) {
        return requests.stream().filter(r -> r.path().startsWith(pathPrefix)).count();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                pool.submit(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            String requestLine = line(in);
            if (requestLine == null || requestLine.isEmpty()) return;
            String[] parts = requestLine.split(" ");
            String auth = null;
            int length = 0;
            String h;
            while ((h = line(in)) != null && !h.isEmpty()) {
                int c = h.indexOf(':');
                if (c < 0) continue;
                String name = h.substring(0, c).trim().toLowerCase(), value = h.substring(c + 1).trim();
                if (name.equals("authorization")) auth = value;
                if (name.equals("content-length")) length = Integer.parseInt(value);
            }
            byte[] body = in.readNBytes(length);
            String raw = parts[1];
            Request req = new Request(parts[0], raw, URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8), auth, body);
            requests.add(req);
            handler.apply(req).write(s.getOutputStream(), s);
        } catch (IOException | InterruptedException ignored) {
            // the client went away; that is what some tests are about
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') break;
            if (c != '\r') b.write(c);
        }
        if (c < 0 && b.size() == 0) return null;
        return b.toString(StandardCharsets.UTF_8);
    }

    // ---- replies -------------------------------------------------------------------------

    public static Reply status(int code, String contentType, byte[] body) {
        return (out, socket) -> {
            out.write(head(code, contentType, body.length).getBytes(StandardCharsets.UTF_8));
            out.write(body);
            out.flush();
        };
    }

    public static Reply text(int code, String body) {
        return status(code, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
    }

    public static Reply json(String body) {
        return status(200, "application/json", body.getBytes(StandardCharsets.UTF_8));
    }

    public static Reply bytes(byte[] body) {
        return status(200, "application/octet-stream", body);
    }

    /** Promises the whole body, sends {@code sendBytes} of it, then resets the connection (TCP RST). */
    public static Reply resetAfter(byte[] body, int sendBytes) {
        return (out, socket) -> {
            out.write(head(200, "application/octet-stream", body.length).getBytes(StandardCharsets.UTF_8));
            out.write(body, 0, sendBytes);
            out.flush();
            Thread.sleep(50);
            socket.setSoLinger(true, 0);
            socket.close();
        };
    }

    /** Sends headers and {@code sendBytes} of the body, then goes silent for {@code millis}. */
    public static Reply stallAfter(byte[] body, int sendBytes, long millis) {
        return (out, socket) -> {
            out.write(head(200, "application/octet-stream", body.length).getBytes(StandardCharsets.UTF_8));
            out.write(body, 0, sendBytes);
            out.flush();
            Thread.sleep(millis);
        };
    }

    /** Says nothing at all for {@code millis}. */
    public static Reply silence(long millis) {
        return (out, socket) -> Thread.sleep(millis);
    }

    /** Passes the request on to a real server at {@code base} and relays its answer (status and body). */
    public static Reply relay(String base, Request r) {
        return (out, socket) -> {
            java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + r.rawPath()))
                    .method(r.method(), r.body().length == 0 ? java.net.http.HttpRequest.BodyPublishers.noBody()
                            : java.net.http.HttpRequest.BodyPublishers.ofByteArray(r.body()));
            if (r.authorization() != null) b.header("Authorization", r.authorization());
            if (r.body().length > 0) b.header("Content-Type", "application/json");
            java.net.http.HttpResponse<byte[]> resp = java.net.http.HttpClient.newHttpClient().send(b.build(),
                    java.net.http.HttpResponse.BodyHandlers.ofByteArray());
            status(resp.statusCode(), resp.headers().firstValue("Content-Type").orElse("application/octet-stream"), resp.body()).write(out, socket);
        };
    }

    private static String head(int code, String type, long length) {
        return "HTTP/1.1 " + code + " X\r\nContent-Type: " + type + "\r\nContent-Length: " + length + "\r\nConnection: close\r\n\r\n";
    }

    @Override
    public void close() throws IOException {
        server.close();
        pool.shutdownNow();
    }
}
