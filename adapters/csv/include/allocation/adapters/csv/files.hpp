// What makes a directory of CSV files safe to write: an atomic replace of one file, and a lock on the directory.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "allocation/domain/errors.hpp"

namespace allocation::csv {

/// A file of the directory could not be written or locked; what() names the file and the system's reason.
class FileError : public StorageError {
public:
    FileError(std::string_view what, const std::filesystem::path& path, int error)
        : StorageError(fmt::format("{} {}: {}", what, path.string(), std::strerror(error))) {}
};

/// Another process holds the directory (see DirectoryLock).
class DirectoryBusy : public StorageError {
public:
    using StorageError::StorageError;
};

namespace detail {

/// Closes a file descriptor when it goes out of scope.
class Descriptor {
public:
    explicit Descriptor(int fd) noexcept : fd_(fd) {}
    Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Descriptor& operator=(Descriptor&&) = delete;
    ~Descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    /// Closes now, reporting the error close() may give (a delayed write error, on some file systems).
    int close() noexcept { return ::close(std::exchange(fd_, -1)); }

private:
    int fd_;
};

inline std::filesystem::path directory_of(const std::filesystem::path& path) {
    return path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
}

inline void write_all(int fd, std::string_view content, const std::filesystem::path& path) {
    for (std::size_t done = 0; done < content.size();) {
        const ssize_t written = ::write(fd, content.data() + done, content.size() - done);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) throw FileError("cannot write", path, errno);
        done += static_cast<std::size_t>(written);
    }
}

/// Makes the directory's entries (a rename into it) durable.
inline void sync_directory(const std::filesystem::path& dir) {
    Descriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) throw FileError("cannot open the directory", dir, errno);
    if (::fsync(fd.get()) != 0) throw FileError("cannot flush the directory", dir, errno);
}

}  // namespace detail

/// Replaces `path` with `content` atomically: a temporary file made by mkstemp in the same directory, given the
/// old file's mode (0644 for a new file), written and fsync'ed, renamed over the old one, and then the directory
/// fsync'ed. A crash leaves the old file or the new one, never half of one; a failure (FileError) leaves the old
/// file as it was and no temporary file behind.
inline void write_atomically(const std::filesystem::path& path, std::string_view content) {
    struct stat old {};
    const mode_t mode = ::stat(path.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644;
    std::string temp = (detail::directory_of(path) / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
    detail::Descriptor fd(::mkstemp(temp.data()));
    if (fd.get() < 0) throw FileError("cannot create a temporary file beside", path, errno);
    try {
        if (::fchmod(fd.get(), mode) != 0) throw FileError("cannot set the mode of", temp, errno);
        detail::write_all(fd.get(), content, temp);
        if (::fsync(fd.get()) != 0) throw FileError("cannot flush", temp, errno);
        if (fd.close() != 0) throw FileError("cannot close", temp, errno);
        if (::rename(temp.c_str(), path.c_str()) != 0) throw FileError("cannot rename over", path, errno);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    detail::sync_directory(detail::directory_of(path));
}

/// An exclusive flock on a directory for as long as the object lives, so that two processes never interleave
/// their reads and writes of its files. A second one is refused at once (DirectoryBusy), not made to wait: a
/// batch job that finds another run under way should say so rather than hang.
class DirectoryLock {
public:
    explicit DirectoryLock(const std::filesystem::path& dir)
        : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (fd_.get() < 0) throw FileError("cannot open the directory", dir, errno);
        if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) return;
        if (errno == EWOULDBLOCK) {
            throw DirectoryBusy(fmt::format("{} is in use by another process (it holds a lock on the directory); "
                                            "try again when that run has finished", dir.string()));
        }
        throw FileError("cannot lock the directory", dir, errno);
    }

private:
    detail::Descriptor fd_;  // closing it releases the lock
};

}  // namespace allocation::csv
