import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP proxy on 127.0.0.1 in front of a real S3 store (the sandbox's S3Proxy) that makes
 * UploadPart requests fail with 500 InternalError: the first {@code failFirst} of them, or every
 * one whose path contains {@code alwaysFailKeyPart}; the same for PutObject requests (whole
 * objects) with {@link #failFirstObjectPuts} and {@link #alwaysFailObjectPutsOf}. Everything else is relayed byte for byte,
 * Host header included, so request signatures stay valid (Expect, like Connection, is not signed:
 * it answers "100 Continue" itself). One request per connection (it adds "Connection: close"),
 * which S3 clients handle by reconnecting.
 */
public final class FailingS3Proxy implements AutoCloseable {
    private final ServerSocket server;
    private final int targetPort;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "failing-s3-proxy");
        t.setDaemon(true);
        return t;
    });
    private final AtomicInteger failFirst = new AtomicInteger();
    private final AtomicInteger failFirstObjects = new AtomicInteger();
    private volatile String alwaysFailObjectKeyPart;
    private final AtomicInteger objectPutsFailed = new AtomicInteger();
    private volatile String alwaysFailKeyPart;
    private final AtomicInteger uploadPartsSeen = new AtomicInteger();
    private final AtomicInteger uploadPartsFailed = new AtomicInteger();
    private final AtomicInteger puts = new AtomicInteger();
    private final AtomicInteger putsWithContentMd5 = new AtomicInteger();
    private final AtomicInteger putsWithUnsignedPayload = new AtomicInteger();
    private final java.util.List<Long> failureMillis = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    public FailingS3Proxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pool.submit(this::acceptLoop);
    }

    public String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** The next {@code n} UploadPart requests answer 500. */
    public void failFirstUploadParts(int n) {
        failFirst.set(n);
    }

    /** Every UploadPart of an object whose path contains {@code keyPart} answers 500. */
    public void alwaysFailUploadPartsOf(String keyPart) {
        alwaysFailKeyPart = keyPart;
    }

    /** The next {@code n} PutObject requests (a whole object in one PUT) answer 500. */
    public void failFirstObjectPuts(int n) {
        failFirstObjects.set(n);
    }

    /** Every PutObject of a key containing {@code keyPart} answers 500. */
    public void alwaysFailObjectPutsOf(String keyPart) {
        alwaysFailObjectKeyPart = keyPart;
    }

    public int objectPutsFailed() {
        return objectPutsFailed.get();
    }

    public int uploadPartsSeen() {
        return uploadPartsSeen.get();
    }

    public int uploadPartsFailed() {
        return uploadPartsFailed.get();
    }

    /** PUT requests seen (objects and parts), and how many of them carried a Content-MD5 header. */
    public int puts() {
        return puts.get();
    }

    public int putsWithContentMd5() {
        return putsWithContentMd5.get();
    }

    /** PUT requests whose body was not hashed into the signature (x-amz-content-sha256: UNSIGNED-PAYLOAD). */
    public int putsWithUnsignedPayload() {
        return putsWithUnsignedPayload.get();
    }

    /** When each injected failure happened (System.currentTimeMillis), to check the client backs off. */
    public java.util.List<Long> failureMillis() {
        synchronized (failureMillis) {
            return java.util.List.copyOf(failureMillis);
        }
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                pool.submit(() -> handle(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void handle(Socket client) {
        try (client) {
            InputStream in = client.getInputStream();
            String head = readHead(in);
            if (head == null) return;
            String requestLine = head.substring(0, head.indexOf("\r\n"));
            String[] parts = requestLine.split(" ");
            String method = parts[0], target = parts.length > 1 ? parts[1] : "";
            long length = contentLength(head);
            if (head.toLowerCase(Locale.ROOT).contains("\r\nexpect: 100-continue")) {
                // S3 clients ask before sending a body; say go (the header is dropped when relaying).
                client.getOutputStream().write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                client.getOutputStream().flush();
            }
            byte[] body = in.readNBytes((int) length);
            if (method.equals("PUT")) {
                puts.incrementAndGet();
                if (head.toLowerCase(Locale.ROOT).contains("\r\ncontent-md5:")) putsWithContentMd5.incrementAndGet();
                if (head.toLowerCase(Locale.ROOT).contains("\r\nx-amz-content-sha256: unsigned-payload\r\n")) putsWithUnsignedPayload.incrementAndGet();
            }
            boolean uploadPart = method.equals("PUT") && target.contains("partNumber=") && target.contains("uploadId=");
            if (method.equals("PUT") && !uploadPart) {
                String always = alwaysFailObjectKeyPart;
                if ((always != null && java.net.URLDecoder.decode(target, StandardCharsets.UTF_8).contains(always))
                        || failFirstObjects.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    objectPutsFailed.incrementAndGet();
                    failureMillis.add(System.currentTimeMillis());
                    answer500(client.getOutputStream());
                    return;
                }
            }
            if (uploadPart) {
                uploadPartsSeen.incrementAndGet();
                String always = alwaysFailKeyPart;
                boolean fail = (always != null && java.net.URLDecoder.decode(target, StandardCharsets.UTF_8).contains(always))
                        || failFirst.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
                if (fail) {
                    uploadPartsFailed.incrementAndGet();
                    failureMillis.add(System.currentTimeMillis());
                    answer500(client.getOutputStream());
                    return;
                }
            }
            relay(head, body, client.getOutputStream());
        } catch (IOException e) {
            // the client went away: nothing to do
        }
    }

    /** Sends the request upstream unchanged but for "Connection: close", and copies the answer back until upstream closes. */
    private static void answer500(OutputStream out) throws IOException {
        byte[] xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>injected failure</Message></Error>"
                .getBytes(StandardCharsets.UTF_8);
        out.write(("HTTP/1.1 500 Server Error\r\nContent-Type: application/xml\r\nContent-Length: " + xml.length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(xml);
        out.flush();
    }

    private void relay(String head, byte[] body, OutputStream toClient) throws IOException {
        StringBuilder h = new StringBuilder();
        for (String line : head.split("\r\n")) {
            String lower = line.toLowerCase(Locale.ROOT);
            if (line.isEmpty() || lower.startsWith("connection:") || lower.startsWith("expect:")) continue;
            h.append(line).append("\r\n");
        }
        h.append("Connection: close\r\n\r\n");
        try (Socket up = new Socket()) {
            up.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
            OutputStream o = up.getOutputStream();
            o.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
            o.write(body);
            o.flush();
            up.getInputStream().transferTo(toClient);
            toClient.flush();
        }
    }

    /** The request line and headers, up to the blank line; null at end of stream. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;
        for (int c; (c = in.read()) >= 0; ) {
            b.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) ? state + 1 : (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) return b.toString(StandardCharsets.ISO_8859_1);
        }
        return null;
    }

    private static long contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) return Long.parseLong(line.substring(15).strip());
        }
        return 0;
    }

    @Override
    public void close() throws IOException {
        server.close();
        pool.shutdownNow();
    }
}
