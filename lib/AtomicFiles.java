import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes that never leave a half-written file behind: the bytes go to a temporary file in
 * the same folder, are flushed to disk (fsync), and only then renamed over the target.
 * A crash at any moment leaves either the old file or the new one, never a mix.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** The temporary name used next to {@code target}; starts with '.' and ends with '.part'. */
    public static Path tempFor(Path target) {
        String name = "." + target.getFileName() + "." + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL) + ".part";
        return target.resolveSibling(name);
    }

    public static void write(Path target, byte[] bytes) throws IOException {
        Path dir = parentOf(target);
        Files.createDirectories(dir);
        Path tmp = tempFor(target);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(true);
            }
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Streams {@code in} to {@code target} atomically; returns the number of bytes written. */
    public static long write(Path target, InputStream in) throws IOException {
        Path dir = parentOf(target);
        Files.createDirectories(dir);
        Path tmp = tempFor(target);
        try {
            long n;
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW)) {
                n = in.transferTo(out);
            }
            fsync(tmp);
            moveIntoPlace(tmp, target);
            return n;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Copies a file byte for byte, atomically; refuses to replace an existing target when {@code overwrite} is false. */
    public static void copy(Path source, Path target, boolean overwrite) throws IOException {
        Path dir = parentOf(target);
        Files.createDirectories(dir);
        if (!overwrite && Files.exists(target)) {
            throw new java.nio.file.FileAlreadyExistsException(target.toString());
        }
        Path tmp = tempFor(target);
        try {
            Files.copy(source, tmp);
            fsync(tmp);
            if (overwrite) {
                moveIntoPlace(tmp, target);
            } else {
                // A hard link fails if the target appeared meanwhile, so nothing is ever overwritten.
                Files.createLink(target, tmp);
                fsyncDir(dir);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static final java.util.regex.Pattern PART = java.util.regex.Pattern.compile("^\\..+\\.(\\d+)-[0-9a-f]+\\.part$");

    /**
     * Deletes the temporary files under {@code root} that a process killed mid-write left behind
     * (their name carries the writer's pid; files of a process still running are left alone).
     * @return how many were deleted
     */
    public static int removeStaleParts(Path root) throws IOException {
        if (!Files.isDirectory(root)) return 0;
        int n = 0;
        try (java.util.stream.Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                java.util.regex.Matcher m = PART.matcher(p.getFileName().toString());
                if (!m.matches() || !Files.isRegularFile(p)) continue;
                long pid = Long.parseLong(m.group(1));
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
                Files.deleteIfExists(p);
                n++;
            }
        }
        return n;
    }

    /** Renames a finished temporary file over its target, then makes the rename itself durable. */
    public static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + parentOf(target) + " cannot rename atomically", e);
        }
        fsyncDir(parentOf(target));
    }

    public static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Flushes a folder's entries (the rename) to disk; not every platform allows it, which is harmless. */
    public static void fsyncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Windows cannot open a folder this way; its rename is durable enough there.
        }
    }

    private static Path parentOf(Path p) {
        Path parent = p.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }
}
