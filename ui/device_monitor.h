#pragma once
// What the status bar and the memory check know about the machine: the CPU's
// RAM (from /proc/meminfo) and each NVIDIA GPU's memory (from nvidia-smi,
// polled asynchronously: ui/ links no CUDA or LibTorch, and a missing or
// hanging nvidia-smi only means "no GPU listed").

#include <QObject>
#include <QString>
#include <QVector>

class QProcess;
class QTimer;

namespace glq::ui {

struct DeviceInfo {
    QString id;            // "cpu", "cuda:0", ...
    QString name;          // "CPU (16 cores)", "NVIDIA H100 80GB HBM3"
    quint64 total_bytes = 0;
    quint64 used_bytes = 0;
    quint64 free_bytes() const { return total_bytes > used_bytes ? total_bytes - used_bytes : 0; }
    bool is_gpu() const { return id.startsWith(QLatin1String("cuda")); }
};

// The CPU entry: total RAM and RAM in use (MemTotal - MemAvailable).
DeviceInfo cpu_device_info();
// Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used
// --format=csv,noheader,nounits` output (MiB). Bad lines are skipped.
QVector<DeviceInfo> parse_nvidia_smi(const QString& output);

class DeviceMonitor : public QObject {
    Q_OBJECT
public:
    explicit DeviceMonitor(QObject* parent = nullptr);
    // CPU first, then GPUs as last polled.
    QVector<DeviceInfo> devices() const;
    DeviceInfo device(const QString& id) const;  // the CPU entry if `id` is unknown
    void start(int interval_ms = 5000);

public slots:
    void poll();

signals:
    void updated();

private:
    QVector<DeviceInfo> gpus_;
    QProcess* smi_ = nullptr;
    QTimer* timer_ = nullptr;
    bool smiMissing_ = false;
};

} // namespace glq::ui
