import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes that never leave a half-written file behind: the bytes go to a temporary file in
 * the same folder, are flushed to disk (fsync), and only then renamed over the target.
 * A crash at any moment leaves either the old file or the new one, never a mix.
 *
 * <p>A write the file system refuses (permissions, owner, a read-only or immutable folder, a
 * file where a folder must be) fails with {@link FolderNotWritable}, whose message names the
 * folder and what to check — not just the temporary file's path, as the bare exception would.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** A folder the kit must write in refuses it; the message names the folder and what to do. */
    public static final class FolderNotWritable extends IOException {
        private final transient Path folder;

        FolderNotWritable(Path folder, String what, IOException cause) {
            super(what, cause);
            this.folder = folder;
        }

        public Path folder() {
            return folder;
        }
    }

    /**
     * {@code e} as the user should read it: a refusal of the file system (EACCES, EPERM,
     * read-only) becomes a {@link FolderNotWritable} naming the folder; anything else is unchanged.
     */
    public static IOException explain(IOException e, Path target) {
        if (e instanceof FolderNotWritable) return e;
        if (e instanceof FileSystemException fse && refused(fse)) {
            Path denied = (fse.getFile() != null ? Path.of(fse.getFile()) : target).toAbsolutePath().normalize();
            Path folder = Files.isDirectory(denied) ? denied : parentOf(denied);
            // Only refusals on the way to the target are about writing (a copy's unreadable source is not).
            if (!parentOf(target).normalize().startsWith(folder)) return e;
            String reason = fse.getReason() == null || e instanceof AccessDeniedException ? "" : " (" + fse.getReason().strip() + ")";
            return new FolderNotWritable(folder, "permission denied: cannot write in the folder " + folder + reason
                    + " -> check that folder's permissions and owner (ls -ld " + folder + "); the user running the kit must be able to write there", e);
        }
        return e;
    }

    private static boolean refused(FileSystemException e) {
        if (e instanceof AccessDeniedException) return true;
        String r = e.getReason() == null ? "" : e.getReason();
        return r.contains("Operation not permitted") || r.contains("Read-only file system");
    }

    /** Creates {@code dir} and its parents; a file standing where a folder must be is named as such. */
    private static void ensureFolder(Path dir) throws IOException {
        try {
            Files.createDirectories(dir);
        } catch (FileAlreadyExistsException e) {
            Path inTheWay = e.getFile() != null ? Path.of(e.getFile()) : dir;
            throw new FolderNotWritable(inTheWay, "cannot write in the folder " + dir + ": " + inTheWay
                    + " is a file, not a folder -> move that file aside (or point the kit at another folder)", e);
        }
    }

    /** The temporary name used next to {@code target}; starts with '.' and ends with '.part'. */
    public static Path tempFor(Path target) {
        String name = "." + target.getFileName() + "." + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL) + ".part";
        return target.resolveSibling(name);
    }

    public static void write(Path target, byte[] bytes) throws IOException {
        writeAll(Map.of(target, bytes));
    }

    /**
     * Writes several files, each as {@link #write} does, but flushes each folder once, after the
     * last rename, instead of once per file: a photo's twenty crops cost one flush of the crops
     * folder, not twenty (on a disk that takes 5 ms per flush, 0.1 s less per photo). When it
     * returns, every file is on disk under its name. On a failure the files renamed so far stay
     * (whole); the caller has not recorded them anywhere yet, and its re-run writes them again.
     */
    public static void writeAll(Map<Path, byte[]> files) throws IOException {
        Set<Path> folders = new LinkedHashSet<>();
        for (Map.Entry<Path, byte[]> f : files.entrySet()) {
            Path target = f.getKey(), tmp = tempFor(target);
            try {
                ensureFolder(parentOf(target));
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(f.getValue());
                    while (buf.hasRemaining()) ch.write(buf);
                    ch.force(true);
                }
                rename(tmp, target);
            } catch (IOException e) {
                throw explain(e, target);
            } finally {
                deleteQuietly(tmp);
            }
            folders.add(parentOf(target));
        }
        for (Path folder : folders) fsyncDir(folder);
    }

    /**
     * The same all-or-nothing write without waiting for the disk, for data the kit can always make
     * again (the review page's kept thumbnails): no other process ever sees it half-written, but after
     * a power cut it may be empty or cut short, so its readers check it.
     */
    public static void writeDerived(Path target, byte[] bytes) throws IOException {
        Path tmp = tempFor(target);
        try {
            ensureFolder(parentOf(target));
            Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw explain(e, target);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /** Streams {@code in} to {@code target} atomically; returns the number of bytes written. */
    public static long write(Path target, InputStream in) throws IOException {
        Path dir = parentOf(target);
        Path tmp = tempFor(target);
        try {
            ensureFolder(dir);
            long n;
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW)) {
                n = in.transferTo(out);
            }
            fsync(tmp);
            moveIntoPlace(tmp, target);
            return n;
        } catch (IOException e) {
            throw explain(e, target);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /** Copies a file byte for byte, atomically; refuses to replace an existing target when {@code overwrite} is false. */
    public static void copy(Path source, Path target, boolean overwrite) throws IOException {
        Path dir = parentOf(target);
        try {
            ensureFolder(dir);
        } catch (IOException e) {
            throw explain(e, target);
        }
        if (!overwrite && Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
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
        } catch (FileAlreadyExistsException e) {
            throw e;  // the target appeared meanwhile: the caller's race to handle, not a permission problem
        } catch (IOException e) {
            throw explain(e, target);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /** Removes a temporary file; a failure here must not hide the failure that is being reported. */
    private static void deleteQuietly(Path tmp) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // nothing was renamed into place; a stray .part file is cleared by removeStaleParts
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
        rename(tmp, target);
        fsyncDir(parentOf(target));
    }

    private static void rename(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + parentOf(target) + " cannot rename atomically", e);
        }
    }

    public static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        } catch (AccessDeniedException e) {
            // A copy of a read-only photo is read-only too; a read-only handle flushes it just as well on POSIX.
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ch.force(true);
            }
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
