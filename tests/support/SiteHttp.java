import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Real HTTP calls to a site (the local stand-in or any server speaking the sync API), for tests.
 * Paths are sent exactly as given, already percent-encoded, so a test can send hostile ones;
 * {@link #encodePath} encodes a staged path the way a correct client does, one segment at a time.
 */
public final class SiteHttp {
    public record Response(int status, byte[] bytes, HttpHeaders headers) {
        public String body() {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        public JsonNode json() {
            return JsonFiles.parse(bytes, "the site's answer");
        }

        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }
    }

    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private final String baseUrl;
    private final String token;

    /** {@code token} null sends no Authorization header at all. */
    public SiteHttp(String baseUrl, String token) {
        this.baseUrl = baseUrl;
        this.token = token;
    }

    public SiteHttp withToken(String other) {
        return new SiteHttp(baseUrl, other);
    }

    public Response get(String rawPath) throws IOException, InterruptedException {
        return send("GET", rawPath, null);
    }

    public Response post(String rawPath, String body) throws IOException, InterruptedException {
        return send("POST", rawPath, body);
    }

    public Response send(String method, String rawPath, String bodyOrNull) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + rawPath)).timeout(Duration.ofSeconds(60))
                .method(method, bodyOrNull == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(bodyOrNull, StandardCharsets.UTF_8));
        if (bodyOrNull != null) b.header("Content-Type", "application/json");
        if (token != null) b.header("Authorization", "Bearer " + token);
        HttpResponse<byte[]> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        return new Response(r.statusCode(), r.body(), r.headers());
    }

    /**
     * A GET sent over a plain socket with the path exactly as given, even where java.net.URI would
     * refuse it (a malformed escape like %zz): what a hostile or broken client can send.
     */
    public Response rawGet(String rawPath) throws IOException {
        URI base = URI.create(baseUrl);
        try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(30_000);
            String request = "GET " + rawPath + " HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort() + "\r\n"
                    + (token == null ? "" : "Authorization: Bearer " + token + "\r\n") + "Connection: close\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            byte[] all = socket.getInputStream().readAllBytes();
            String head = new String(all, StandardCharsets.ISO_8859_1);
            int end = head.indexOf("\r\n\r\n");
            if (end < 0) throw new IOException("no HTTP answer to " + rawPath + ": " + head);
            int status = Integer.parseInt(head.substring(9, 12));
            java.util.Map<String, java.util.List<String>> headers = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String line : head.substring(head.indexOf("\r\n") + 2, end).split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0) headers.computeIfAbsent(line.substring(0, colon).trim(), k -> new java.util.ArrayList<>()).add(line.substring(colon + 1).trim());
            }
            byte[] body = java.util.Arrays.copyOfRange(all, end + 4, all.length);
            return new Response(status, body, HttpHeaders.of(headers, (a, b) -> true));
        }
    }

    /** Streams a download into a SHA-256 digest (hex) without holding the file in memory; returns [status, digest, size]. */
    public String[] digestOf(String rawPath) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + rawPath)).timeout(Duration.ofSeconds(120)).GET();
        if (token != null) b.header("Authorization", "Bearer " + token);
        HttpResponse<java.io.InputStream> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        try (var in = r.body()) {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            long size = 0;
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
                size += n;
            }
            return new String[] {String.valueOf(r.statusCode()), java.util.HexFormat.of().formatHex(md.digest()), String.valueOf(size)};
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** "a1b2c3d4/IMG 1#.jpg" -> "a1b2c3d4/IMG%201%23.jpg": each segment percent-encoded as UTF-8. */
    public static String encodePath(String relPath) {
        StringBuilder sb = new StringBuilder();
        for (String seg : relPath.split("/", -1)) {
            if (sb.length() > 0) sb.append('/');
            for (byte b : seg.getBytes(StandardCharsets.UTF_8)) {
                char c = (char) (b & 0xff);
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~".indexOf(c) >= 0) sb.append(c);
                else sb.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return sb.toString();
    }
}
