import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * The local site's staging area, as production keeps it: staging/<job_id>/... with each job's
 * _metadata.json, and pending_uploads.json with each job's status. Lists, resolves, clears and
 * marks processed exactly as production's sync API does; where production has a foot-gun (an
 * empty path in a clear wipes all of staging) this stand-in refuses instead.
 */
final class SiteStaging {
    final Path root;
    final Path staging;
    /** Shared with the site's documents: push, clear, mark-processed and the listing never interleave. */
    final ReentrantLock writes;

    SiteStaging(Path root, ReentrantLock writes) {
        this.root = root;
        this.staging = root.resolve("staging");
        this.writes = writes;
    }

    /**
     * Lays out one upload job as the site's upload form does: the files in staging/<jobId>/ (spaces
     * and '/' in names replaced by '_', as the site does), its _metadata.json, and a "staged" entry
     * in pending_uploads.json. Returns the job's folder.
     */
    static Path stageUpload(Path root, String jobId, String source, String collection, Map<String, byte[]> files) throws IOException {
        if (jobId == null || jobId.isEmpty() || jobId.contains("/") || jobId.contains("\\") || jobId.contains("..")) {
            throw new IllegalArgumentException("a job id is one folder name (8 hex characters on the site), not '" + jobId + "'");
        }
        Path job = root.resolve("staging").resolve(jobId);
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            String name = f.getKey().replace(' ', '_').replace('/', '_');
            if (name.startsWith("_") || name.equals(".") || name.equals("..") || names.contains(name)) {
                throw new IllegalArgumentException("upload file name '" + f.getKey() + "' is a metadata name or collides with another one");
            }
            names.add(name);
            AtomicFiles.write(job.resolve(name), f.getValue());
        }
        String now = PythonWire.PY_ISO.format(Instant.now());
        ObjectNode meta = JsonFiles.object();
        meta.put("job_id", jobId);
        meta.put("source", source);
        meta.put("collection", collection);
        meta.put("source_url", "");
        ArrayNode list = meta.putArray("files");
        names.forEach(list::add);
        meta.put("uploaded_at", now);
        meta.put("processing_enabled", false);
        meta.put("uploader_email", "volunteer@example.org");
        JsonFiles.write(job.resolve("_metadata.json"), meta);

        Path pendingFile = root.resolve("pending_uploads.json");
        ObjectNode pending = Files.exists(pendingFile) ? JsonFiles.readObject(pendingFile) : JsonFiles.object();
        ObjectNode entry = JsonFiles.object();
        entry.put("job_id", jobId);
        entry.put("status", "staged");
        entry.put("source", source);
        entry.put("collection", collection);
        entry.put("source_url", "");
        entry.set("files", list.deepCopy());
        entry.put("file_count", names.size());
        entry.put("submitted_at", now);
        entry.put("uploader_email", "volunteer@example.org");
        JsonNode uploads = pending.get("uploads");
        if (uploads instanceof ArrayNode a) {
            a.add(entry);
        } else {
            ObjectNode byJob = uploads instanceof ObjectNode o ? o : pending.putObject("uploads");
            byJob.set(jobId, entry);
        }
        JsonFiles.write(pendingFile, pending);
        return job;
    }

    ObjectNode listStaged() throws IOException {
        // under the write lock, so a clear never pulls a folder from under the walk
        writes.lock();
        try {
            return listStagedLocked();
        } finally {
            writes.unlock();
        }
    }

    ObjectNode listStagedLocked() throws IOException {
        ObjectNode out = JsonFiles.object();
        ArrayNode files = out.putArray("files");
        long total = 0;
        if (Files.isDirectory(staging)) {
            List<Path> all;
            try (Stream<Path> s = Files.walk(staging)) {
                all = s.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> relative(p))).toList();
            }
            for (Path p : all) {
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(p, BasicFileAttributes.class);
                } catch (NoSuchFileException gone) {
                    continue; // cleared while we listed
                }
                ObjectNode f = files.addObject();
                f.put("filename", p.getFileName().toString());
                f.put("path", relative(p));
                f.put("size_bytes", a.size());
                f.put("uploaded_at", PythonWire.MILLIS_ISO.format(a.lastModifiedTime().toInstant()));
                total += a.size();
            }
        }
        out.put("total_files", files.size());
        out.put("total_size_bytes", total);
        return out;
    }

    /** The path relative to staging/, with '/' whatever the platform. */
    String relative(Path p) {
        List<String> parts = new ArrayList<>();
        for (Path part : staging.relativize(p)) parts.add(part.toString());
        return String.join("/", parts);
    }

    /**
     * The file or folder a client's path names under staging/, or null when the path is not
     * allowed: production refuses any path holding ".." or starting with '/', then anything
     * that resolves (symbolic links followed) outside staging/. staging/ itself is refused too.
     */
    Path insideStaging(String rel) {
        if (rel.isEmpty() || rel.contains("..") || rel.startsWith("/")) return null;
        Path target;
        try {
            target = staging.resolve(rel).normalize();
        } catch (InvalidPathException e) {
            return null;
        }
        if (!target.startsWith(staging) || target.equals(staging)) return null;
        try {
            if (Files.exists(target) && !target.toRealPath().startsWith(staging.toRealPath())) return null;
        } catch (IOException e) {
            return null;
        }
        return target;
    }

    ObjectNode clear(ObjectNode body) throws IOException, SiteHttpApi.Refusal {
        writes.lock();
        try {
            if (PythonWire.truthy(body.get("all"))) {
                ObjectNode out = JsonFiles.object();
                out.put("cleared", "all");
                ArrayNode removed = out.putArray("removed");
                if (Files.isDirectory(staging)) {
                    List<Path> top;
                    try (Stream<Path> s = Files.list(staging)) {
                        top = s.sorted().toList();
                    }
                    for (Path p : top) {
                        deleteTree(p);
                        removed.add(p.getFileName().toString());
                    }
                }
                out.put("count", removed.size());
                return out;
            }
            JsonNode list = body.get("files");
            if (!PythonWire.truthy(list)) throw new SiteHttpApi.Refusal(400, "No files specified");
            if (!list.isArray()) throw new SiteHttpApi.Refusal(400, "'files' must be a list of paths relative to staging/");
            ObjectNode out = JsonFiles.object();
            ArrayNode removed = out.putArray("removed");
            ArrayNode errors = out.putArray("errors");
            for (JsonNode item : list) {
                String rel = item.isTextual() ? item.asText() : item.toString();
                Path target = item.isTextual() ? insideStaging(rel) : null;
                if (target == null) {
                    addError(errors, rel, "invalid path");
                } else if (!Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    addError(errors, rel, "not found");
                } else {
                    try {
                        deleteTree(target);
                        removed.add(rel);
                        removeEmptyParents(target.getParent());
                    } catch (IOException e) {
                        addError(errors, rel, "could not remove: " + e.getMessage());
                    }
                }
            }
            out.put("count", removed.size());
            return out;
        } finally {
            writes.unlock();
        }
    }

    static void addError(ArrayNode errors, String path, String error) {
        ObjectNode e = errors.addObject();
        e.put("path", path);
        e.put("error", error);
    }

    /** Removes a file, or a folder and everything in it; symbolic links are removed, never followed. */
    static void deleteTree(Path p) throws IOException {
        if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) throw exc;
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Empty folders left behind by a clear go too, up to (never including) staging/ itself. */
    void removeEmptyParents(Path dir) throws IOException {
        while (dir != null && dir.startsWith(staging) && !dir.equals(staging) && Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) return;
            }
            Files.delete(dir);
            dir = dir.getParent();
        }
    }

    ObjectNode markProcessed(ObjectNode body) throws IOException, SiteHttpApi.Refusal {
        boolean all = PythonWire.truthy(body.get("all"));
        Set<String> wanted = new LinkedHashSet<>();
        if (!all) {
            JsonNode ids = body.get("job_ids");
            if (!PythonWire.truthy(ids)) throw new SiteHttpApi.Refusal(400, "Must provide 'job_ids' or 'all'");
            if (!ids.isArray()) throw new SiteHttpApi.Refusal(400, "'job_ids' must be a list of job ids");
            for (JsonNode id : ids) wanted.add(id.asText());
        }
        writes.lock();
        try {
            Path file = root.resolve("pending_uploads.json");
            ObjectNode pending = Files.exists(file) ? JsonFiles.readObject(file) : JsonFiles.object();
            JsonNode uploads = pending.path("uploads");
            List<String> marked = new ArrayList<>();
            String now = PythonWire.PY_ISO.format(Instant.now());
            if (uploads instanceof ObjectNode byJob) {
                if (all) {
                    byJob.fields().forEachRemaining(e -> mark(e.getKey(), e.getValue(), Set.of("staged"), now, marked));
                } else {
                    for (String id : wanted) mark(id, byJob.get(id), Set.of("staged", "approved"), now, marked);
                }
            } else if (uploads instanceof ArrayNode list) {
                // an older layout keeps a list of entries that each name their job
                for (JsonNode u : list) {
                    String id = u.path("job_id").asText();
                    if (all) mark(id, u, Set.of("staged"), now, marked);
                    else if (wanted.contains(id)) mark(id, u, Set.of("staged", "approved"), now, marked);
                }
            }
            if (!marked.isEmpty()) JsonFiles.write(file, pending);
            ObjectNode out = JsonFiles.object();
            ArrayNode list = out.putArray("marked_processed");
            marked.forEach(list::add);
            out.put("count", marked.size());
            return out;
        } finally {
            writes.unlock();
        }
    }

    static void mark(String jobId, JsonNode upload, Set<String> from, String now, List<String> marked) {
        if (!(upload instanceof ObjectNode u) || !from.contains(u.path("status").asText())) return;
        u.put("status", "processed");
        u.put("processed_at", now);
        marked.add(jobId);
    }
}
