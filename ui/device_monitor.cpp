#include "ui/device_monitor.h"

#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QThread>
#include <QTimer>

namespace glq::ui {

DeviceInfo cpu_device_info() {
    DeviceInfo d;
    d.id = QStringLiteral("cpu");
    d.name = QStringLiteral("CPU (%1 threads)").arg(QThread::idealThreadCount());
    QFile f(QStringLiteral("/proc/meminfo"));
    if (f.open(QIODevice::ReadOnly)) {
        quint64 total = 0, available = 0;
        for (const QByteArray& line : f.readAll().split('\n')) {
            const QList<QByteArray> parts = line.simplified().split(' ');
            if (parts.size() < 2) continue;
            if (parts[0] == "MemTotal:") total = parts[1].toULongLong() * 1024;
            if (parts[0] == "MemAvailable:") available = parts[1].toULongLong() * 1024;
        }
        d.total_bytes = total;
        d.used_bytes = total > available ? total - available : 0;
    }
    return d;
}

QVector<DeviceInfo> parse_nvidia_smi(const QString& output) {
    QVector<DeviceInfo> gpus;
    for (const QString& line : output.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        const QStringList f = line.split(QLatin1Char(','));
        if (f.size() < 4) continue;
        bool ok1 = false, ok2 = false, ok3 = false;
        const int index = f[0].trimmed().toInt(&ok1);
        const quint64 total = f[2].trimmed().toULongLong(&ok2);
        const quint64 used = f[3].trimmed().toULongLong(&ok3);
        if (!ok1 || !ok2 || !ok3) continue;
        DeviceInfo d;
        d.id = QStringLiteral("cuda:%1").arg(index);
        d.name = f[1].trimmed();
        d.total_bytes = total << 20;
        d.used_bytes = used << 20;
        gpus.push_back(d);
    }
    return gpus;
}

DeviceMonitor::DeviceMonitor(QObject* parent) : QObject(parent) {
    smiMissing_ = QStandardPaths::findExecutable(QStringLiteral("nvidia-smi")).isEmpty();
}

QVector<DeviceInfo> DeviceMonitor::devices() const {
    QVector<DeviceInfo> all{cpu_device_info()};
    all += gpus_;
    return all;
}

DeviceInfo DeviceMonitor::device(const QString& id) const {
    for (const auto& g : gpus_)
        if (g.id == id) return g;
    return cpu_device_info();
}

void DeviceMonitor::start(int interval_ms) {
    if (!timer_) {
        timer_ = new QTimer(this);
        connect(timer_, &QTimer::timeout, this, &DeviceMonitor::poll);
    }
    timer_->start(interval_ms);
    poll();
}

void DeviceMonitor::poll() {
    if (smiMissing_) {
        emit updated();
        return;
    }
    if (smi_ && smi_->state() != QProcess::NotRunning) return;  // the last poll is still running
    if (!smi_) {
        smi_ = new QProcess(this);
        connect(smi_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
            if (status == QProcess::NormalExit && code == 0)
                gpus_ = parse_nvidia_smi(QString::fromLocal8Bit(smi_->readAllStandardOutput()));
            else
                gpus_.clear();
            emit updated();
        });
        connect(smi_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
            if (e == QProcess::FailedToStart) smiMissing_ = true;
            gpus_.clear();
            emit updated();
        });
    }
    smi_->start(QStringLiteral("nvidia-smi"), {QStringLiteral("--query-gpu=index,name,memory.total,memory.used"),
                                               QStringLiteral("--format=csv,noheader,nounits")});
}

} // namespace glq::ui
