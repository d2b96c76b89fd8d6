import java.nio.file.Path;

/** Run as its own JVM by DataLockTest: takes the archive lock, says so, and holds it until killed. */
public final class LockHolder {
    public static void main(String[] args) throws Exception {
        DataLock lock = DataLock.acquire(Path.of(args[0]), "LockHolder test process");
        System.out.println("locked");
        System.out.flush();
        Thread.sleep(120_000);
        lock.close();
    }
}
