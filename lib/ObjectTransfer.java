import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * The transfer engine: sends exactly the new and changed items of an {@link UploadPlan},
 * verified. Each PUT and each part carries a Content-MD5 header, so the store rejects damaged
 * bytes, and the ETag it answers is compared with the local MD5. Files from {@link #PART_SIZE}
 * go up in parts of that size (as boto3 does), started first so that they do not finish last;
 * the multipart ETag the store answers must be the one computed from the parts' MD5s, and is
 * remembered for the next plan. Every byte is read once and hashed once (MD5), while it is sent.
 */
public final class ObjectTransfer {
    /** Files of at least this size go up in parts of this size. */
    public static final long PART_SIZE = 8L * 1024 * 1024;
    /**
     * User metadata key that earlier versions of the kit wrote on multipart objects with the whole
     * file's MD5 (hex), header x-amz-meta-md5: still read by the plan, no longer written.
     */
    public static final String MD5_METADATA = "md5";

    /** What sending a plan did. {@code failed}: key → reason, in plan order. */
    public record Outcome(int sentFiles, long sentBytes, Map<String, String> failed, double seconds) {}

    private final S3Client s3;
    /** Small objects go this way (null: through the S3 client). */
    private final SignedPut puts;
    private final StoreSettings settings;
    private final Md5Cache md5s;
    private final int parallel;

    ObjectTransfer(S3Client s3, SignedPut puts, StoreSettings settings, Md5Cache md5s, int parallel) {
        this.s3 = s3;
        this.puts = puts;
        this.settings = settings;
        this.md5s = md5s;
        this.parallel = parallel;
    }

    /**
     * Sends every new and changed item of {@code plan} (and nothing else), at most {@code parallel}
     * requests at a time. A file that fails (after the retries) is reported in the outcome and
     * the others go on. {@code progress} advances by bytes sent (may be null).
     */
    Outcome send(UploadPlan plan, ProgressBar progress) {
        long t0 = System.nanoTime();
        List<UploadPlan.Item> send = plan.toSend();
        // Files run on one pool and parts of big files on another, but every request takes a
        // permit first: at most `parallel` transfers are in flight, whatever mix of sizes.
        Semaphore permits = new Semaphore(parallel);
        ExecutorService files = Executors.newFixedThreadPool(parallel);
        ExecutorService parts = Executors.newFixedThreadPool(parallel);
        Map<String, String> failed = new LinkedHashMap<>();
        int sentFiles = 0;
        long sentBytes = 0;
        try {
            // The big files first: their parts then spread over every connection from the start,
            // instead of one large file still going when everything else is done.
            List<UploadPlan.Item> order = new ArrayList<>(send);
            order.sort(Comparator.comparingLong((UploadPlan.Item i) -> i.size() >= PART_SIZE ? -i.size() : 0));
            Map<UploadPlan.Item, Future<Long>> futures = new IdentityHashMap<>();
            for (UploadPlan.Item item : order) {
                futures.put(item, files.submit(() -> item.size() >= PART_SIZE
                        ? putMultipart(item, permits, parts, progress)
                        : putSingle(item, permits, progress)));
            }
            for (UploadPlan.Item item : send) {
                try {
                    sentBytes += futures.get(item).get();
                    sentFiles++;
                    CrashPoint.reach("upload.object");
                } catch (ExecutionException e) {
                    failed.put(item.key(), StoreErrors.reason(e.getCause(), settings));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failed.put(item.key(), "interrupted");
                }
            }
        } finally {
            files.shutdownNow();
            parts.shutdownNow();
        }
        md5s.save();
        return new Outcome(sentFiles, sentBytes, failed, (System.nanoTime() - t0) / 1e9);
    }

    /** One PUT with Content-MD5; the answered ETag must be that MD5. */
    private long putSingle(UploadPlan.Item item, Semaphore permits, ProgressBar progress) throws Exception {
        byte[] buf = BUFFER.get();
        Md5Cache.Stamp stamp = Md5Cache.stamp(item.file());
        int length = readInto(item.file(), 0, buf, -1);
        byte[] md5 = Checksums.md5(buf, 0, length);
        if (stamp.size() == length) md5s.remember(item.file(), stamp, HexFormat.of().formatHex(md5));
        String etag;
        permits.acquire();
        try {
            String contentMd5 = Base64.getEncoder().encodeToString(md5);
            etag = puts != null ? puts.put(item.key(), item.contentType(), buf, length, contentMd5)
                    : s3.putObject(b -> b.bucket(settings.bucket()).key(item.key()).contentType(item.contentType())
                            .contentLength((long) length).contentMD5(contentMd5), body(buf, length, item.contentType())).eTag();
        } finally {
            permits.release();
        }
        checkEtag(item.key(), Checksums.unquote(etag), HexFormat.of().formatHex(md5));
        if (progress != null) progress.advance(length);
        return length;
    }

    /** A part sent: what CompleteMultipartUpload needs, and the MD5 of its bytes. */
    private record PartDone(CompletedPart part, byte[] md5) {}

    /**
     * A multipart upload in parts of {@link #PART_SIZE}, sent in parallel, each with Content-MD5
     * and its ETag checked, then the object's ETag checked against the parts' MD5s. On failure
     * the upload is aborted (the store frees the parts).
     */
    private long putMultipart(UploadPlan.Item item, Semaphore permits, ExecutorService partPool, ProgressBar progress) throws Exception {
        Md5Cache.Stamp before = Md5Cache.stamp(item.file());
        long size = before.size();
        if (size != item.size()) {
            throw new KitException(item.file() + " changed size since the plan (" + item.size() + " -> " + size + " bytes)",
                    "run the upload again: it plans afresh");
        }
        String uploadId = s3.createMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key())
                .contentType(item.contentType())).uploadId();
        try {
            int count = (int) ((size + PART_SIZE - 1) / PART_SIZE);
            List<Future<PartDone>> futures = new ArrayList<>();
            for (int n = 1; n <= count; n++) {
                int partNumber = n;
                futures.add(partPool.submit(() -> putPart(item, uploadId, partNumber, permits, progress)));
            }
            List<CompletedPart> done = new ArrayList<>();
            List<byte[]> partMd5s = new ArrayList<>();
            for (Future<PartDone> f : futures) {
                PartDone p = await(f);
                done.add(p.part());
                partMd5s.add(p.md5());
            }
            String expected = Checksums.multipartEtag(partMd5s);
            String etag = Checksums.unquote(s3.completeMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(done))).eTag());
            if (etag != null && Checksums.isMultipartEtag(etag) && !etag.equals(expected)) {
                throw new KitException(item.key() + ": the store answered ETag " + etag + " for parts whose ETag is " + expected,
                        "the object may be damaged; run the upload again (it will be re-sent)");
            }
            if (before.equals(Md5Cache.stamp(item.file()))) md5s.rememberMultipart(item.file(), before, expected, PART_SIZE);
            return size;
        } catch (Exception | Error e) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId));
            } catch (SdkException ignored) {
                // The store drops unfinished uploads itself after a while (R2: 7 days); a completed one cannot be aborted.
            }
            throw e;
        }
    }

    private PartDone putPart(UploadPlan.Item item, String uploadId, int partNumber, Semaphore permits, ProgressBar progress) throws Exception {
        byte[] buf = BUFFER.get();
        int length = readInto(item.file(), (partNumber - 1) * PART_SIZE, buf, (int) Math.min(PART_SIZE, item.size() - (partNumber - 1) * PART_SIZE));
        byte[] md5 = Checksums.md5(buf, 0, length);
        UploadPartResponse r;
        permits.acquire();
        try {
            r = s3.uploadPart(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId).partNumber(partNumber)
                            .contentLength((long) length).contentMD5(Base64.getEncoder().encodeToString(md5)),
                    body(buf, length, "application/octet-stream"));
        } finally {
            permits.release();
        }
        checkEtag(item.key() + " part " + partNumber, Checksums.unquote(r.eTag()), HexFormat.of().formatHex(md5));
        if (progress != null) progress.advance(length);
        return new PartDone(CompletedPart.builder().partNumber(partNumber).eTag(r.eTag()).build(), md5);
    }

    /**
     * Each transfer thread reads files and parts into its own buffer, reused from one request to
     * the next: no new multi-megabyte array per photo for the garbage collector. The MD5 sent is
     * the MD5 of exactly these bytes, and a retry re-sends them from the same buffer.
     */
    private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[(int) PART_SIZE]);

    private static RequestBody body(byte[] buf, int length, String contentType) {
        return RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buf, 0, length), length, contentType);
    }

    /** A store that answers an MD5-like ETag must answer ours; other ETag forms say nothing either way. */
    private static void checkEtag(String what, String etag, String md5) {
        if (etag != null && Checksums.isMd5(etag) && !etag.equals(md5)) {
            throw new KitException(what + ": the store answered ETag " + etag + " for bytes whose MD5 is " + md5,
                    "the object may be damaged; run the upload again (it will be re-sent)");
        }
    }

    /**
     * Reads {@code length} bytes of {@code file} from {@code offset} into {@code buf} (the whole
     * file when length is -1; it must fit). Returns the number read.
     */
    private static int readInto(Path file, long offset, byte[] buf, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            int want = length >= 0 ? length : (int) Math.min(size, buf.length);
            if (length < 0 && size > buf.length) throw new IOException(file + " grew to " + size + " bytes while being uploaded");
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, want);
            while (bb.hasRemaining()) {
                int n = ch.read(bb, offset + bb.position());
                if (n < 0) throw new IOException(file + " became shorter while being uploaded");
            }
            return want;
        }
    }

    /** The value of a finished task; its failure rethrown unchecked (the callers report it per file). */
    static <T> T await(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KitException("interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            if (c instanceof IOException io) throw new UncheckedIOException(io);
            throw new RuntimeException(c);
        }
    }
}
