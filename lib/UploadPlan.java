import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * What differs between the local files the archive wants in the bucket and the bucket itself:
 * for each wanted object, new / changed / unchanged, and how that was decided.
 *
 * <p>"Same content" is decided without downloading anything: same size, and the same MD5. The
 * MD5 of an object comes from the bucket listing (the ETag of a single-part object is its MD5),
 * or, for a multipart object, from the multipart ETag recomputed locally with 8 MiB parts (the
 * kit's {@link ObjectTransfer#PART_SIZE}, and what boto3, the earlier Python pipeline's client,
 * used; the upload remembers it, so a re-run reads nothing), else from the "md5" user metadata
 * (written by earlier versions of the kit) or rclone's "md5chksum" metadata.
 *
 * @param alsoListed the keys asked about besides the wanted ones (registered files missing locally)
 *                   that the bucket listing showed: they are in the bucket, though not on this computer
 */
public record UploadPlan(StoreSettings settings, List<Item> items, java.util.Set<String> alsoListed) {

    /** A file the archive wants in the bucket under {@code key}. */
    public record Wanted(String key, Path file, String contentType) {}

    public enum Action { NEW, CHANGED, UNCHANGED }

    /**
     * One wanted object and what to do with it. {@code why}: how the decision was reached
     * ("not in bucket", "size differs", "etag", "md5 metadata", "multipart etag", ...).
     */
    public record Item(String key, Path file, String contentType, long size, Action action, String why) {}

    public List<Item> toSend() {
        return items.stream().filter(i -> i.action() != Action.UNCHANGED).toList();
    }

    public int count(Action a) {
        return (int) items.stream().filter(i -> i.action() == a).count();
    }

    public long bytes(Action a) {
        return items.stream().filter(i -> i.action() == a).mapToLong(Item::size).sum();
    }

    public long bytesToSend() {
        return bytes(Action.NEW) + bytes(Action.CHANGED);
    }

    /** A listed object: its size and ETag (quotes removed). */
    private record Remote(long size, String etag) {}

    /**
     * Compares {@code wanted} with the bucket. Lists each key prefix once (one request per 1000
     * objects); only a multipart object of the same size whose ETag is not the kit's costs a HEAD.
     * Local MD5s are computed only where sizes match and the cache does not know them, on up to
     * {@code parallel} threads.
     */
    static UploadPlan make(S3Client s3, StoreSettings settings, List<Wanted> wanted, List<String> alsoAsk, Md5Cache md5s, int parallel) {
        List<String> keys = new ArrayList<>(alsoAsk);
        for (Wanted w : wanted) keys.add(w.key());
        Map<String, Remote> remote = new HashMap<>();
        for (String prefix : prefixes(keys)) remote.putAll(list(s3, settings, prefix));
        List<Item> items = new ArrayList<>(wanted.size());
        // Hashing local files is the slow part of a re-run: spread it over the cores.
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallel, Runtime.getRuntime().availableProcessors())));
        try {
            List<Future<Item>> futures = new ArrayList<>();
            for (Wanted w : wanted) futures.add(pool.submit(() -> decide(s3, settings, md5s, w, remote.get(w.key()))));
            for (Future<Item> f : futures) items.add(ObjectTransfer.await(f));
        } finally {
            pool.shutdown();
        }
        md5s.save();
        java.util.Set<String> listed = new java.util.HashSet<>();
        for (String k : alsoAsk) if (remote.containsKey(k)) listed.add(k);
        return new UploadPlan(settings, List.copyOf(items), java.util.Set.copyOf(listed));
    }

    private static Item decide(S3Client s3, StoreSettings settings, Md5Cache md5s, Wanted w, Remote r) throws IOException {
        long size = Files.size(w.file());
        if (r == null) return new Item(w.key(), w.file(), w.contentType(), size, Action.NEW, "not in bucket");
        if (r.size() != size) return new Item(w.key(), w.file(), w.contentType(), size, Action.CHANGED, "size differs");
        String how;
        boolean same;
        if (Checksums.isMd5(r.etag())) {
            how = "etag";
            same = md5s.md5(w.file()).equals(r.etag());
        } else {
            // A multipart object: its ETag is the MD5 of its parts' MD5s. Sent by the kit (parts of
            // PART_SIZE), the same ETag computed locally (or remembered from the upload) proves the
            // same bytes, with no request; otherwise the MD5 some tools keep in the metadata decides.
            int parts = (int) Math.max(1, (size + ObjectTransfer.PART_SIZE - 1) / ObjectTransfer.PART_SIZE);
            boolean ourParts = Checksums.isMultipartEtag(r.etag()) && r.etag().endsWith("-" + parts);
            if (ourParts && md5s.multipartEtag(w.file(), ObjectTransfer.PART_SIZE).equals(r.etag())) {
                how = "multipart etag";
                same = true;
            } else {
                String meta = metadataMd5(s3, settings, w.key());
                if (meta != null) {
                    how = "md5 metadata";
                    same = md5s.md5(w.file()).equals(meta);
                } else {
                    how = "multipart etag";
                    same = false;
                }
            }
        }
        return new Item(w.key(), w.file(), w.contentType(), size, same ? Action.UNCHANGED : Action.CHANGED, how + (same ? "" : " differs"));
    }

    /** The distinct "folder/" prefixes of the wanted keys ("raw_photos/", "crops/"). */
    private static List<String> prefixes(List<String> keys) {
        List<String> out = new ArrayList<>();
        for (String k : keys) {
            int slash = k.indexOf('/');
            String p = slash < 0 ? "" : k.substring(0, slash + 1);
            if (!out.contains(p)) out.add(p);
        }
        return out;
    }

    private static Map<String, Remote> list(S3Client s3, StoreSettings settings, String prefix) {
        Map<String, Remote> out = new HashMap<>();
        try {
            ListObjectsV2Request req = ListObjectsV2Request.builder().bucket(settings.bucket()).prefix(prefix).build();
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(req)) {
                for (S3Object o : page.contents()) out.put(o.key(), new Remote(o.size(), Checksums.unquote(o.eTag())));
            }
            return out;
        } catch (SdkException e) {
            throw StoreErrors.explain(e, "listing " + prefix + "*", settings);
        }
    }

    /** The MD5 (hex) the kit or rclone stored in the object's metadata, or null. */
    private static String metadataMd5(S3Client s3, StoreSettings settings, String key) {
        try {
            HeadObjectResponse head = s3.headObject(b -> b.bucket(settings.bucket()).key(key));
            Map<String, String> meta = new HashMap<>();
            head.metadata().forEach((k, v) -> meta.put(k.toLowerCase(Locale.ROOT), v));
            String ours = meta.get(ObjectTransfer.MD5_METADATA);
            if (ours != null && Checksums.isMd5(ours.toLowerCase(Locale.ROOT))) return ours.toLowerCase(Locale.ROOT);
            String rclone = meta.get("md5chksum");
            if (rclone != null) {
                try {
                    byte[] raw = Base64.getDecoder().decode(rclone);
                    if (raw.length == 16) return HexFormat.of().formatHex(raw);
                } catch (IllegalArgumentException ignored) {
                    // not base64: treat as absent
                }
            }
            return null;
        } catch (SdkException e) {
            throw StoreErrors.explain(e, "reading the metadata of " + key, settings);
        }
    }

    /** The Content-Type for a file name (photos may be JPEG, PNG, TIFF, HEIC, WebP ...). */
    public static String contentType(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        String ext = dot < 0 ? "" : n.substring(dot + 1);
        return switch (ext) {
            case "jpg", "jpeg", "jpe", "jfif" -> "image/jpeg";
            case "png" -> "image/png";
            case "gif" -> "image/gif";
            case "webp" -> "image/webp";
            case "tif", "tiff" -> "image/tiff";
            case "heic" -> "image/heic";
            case "heif" -> "image/heif";
            case "bmp" -> "image/bmp";
            case "avif" -> "image/avif";
            default -> "application/octet-stream";
        };
    }
}
