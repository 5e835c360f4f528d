#pragma once
// Everything the program writes goes to a temporary name first and is renamed
// into place only when complete: a cancel, crash or full disk never leaves a
// half-written file or model directory behind.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace glq {

// A file written through a temporary sibling ("<name>.tmp-<pid>-<n>").
// commit() flushes, fsyncs and renames; the destructor removes the temporary
// if commit() was never reached.
class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path target);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Throws glq::Error naming the target file when the disk is full or the write fails.
    void write(const void* data, std::size_t size);
    void write(std::string_view text) { write(text.data(), text.size()); }
    void commit();

    const std::filesystem::path& target() const { return target_; }
    const std::filesystem::path& temp_path() const { return temp_; }

private:
    std::filesystem::path target_;
    std::filesystem::path temp_;
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

// Write a whole file atomically in one call.
void write_file_atomic(const std::filesystem::path& target, std::string_view contents);

// A model directory built under a temporary sibling name and renamed into
// place by commit(). An existing target is replaced only at commit time.
class AtomicDirectory {
public:
    explicit AtomicDirectory(std::filesystem::path target);
    ~AtomicDirectory();
    AtomicDirectory(const AtomicDirectory&) = delete;
    AtomicDirectory& operator=(const AtomicDirectory&) = delete;

    // Where to write the files now.
    const std::filesystem::path& path() const { return temp_; }
    const std::filesystem::path& target() const { return target_; }
    void commit();

private:
    std::filesystem::path target_;
    std::filesystem::path temp_;
    bool committed_ = false;
};

// Read a whole file; throws glq::Error naming the file if it cannot be read.
std::string read_file(const std::filesystem::path& path);

} // namespace glq
