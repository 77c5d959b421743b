//! A fault-injection TCP proxy in front of the console's introspection endpoint. It forwards
//! bytes unchanged, or, when switched: refuses connections (the listening socket is closed),
//! hangs (accepts, reads, never answers), or delays every request by a fixed time. Switching to
//! a fault also drops the connections already open, so pooled keep-alive connections cannot
//! slip past it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward.
    Pass,
    /// Forward, each chunk towards the console held back this long.
    Delay(Duration),
    /// Accept and never answer.
    Hang,
    /// Refuse connections.
    Refuse,
}

impl Mode {
    fn breaks_connections(self) -> bool {
        matches!(self, Mode::Hang | Mode::Refuse)
    }
}

/// The running proxy. Dropping it stops it.
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl FaultProxy {
    /// Listens on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(Mode::Pass);
        tokio::spawn(accept_loop(listener, addr, upstream, rx));
        Ok(FaultProxy { addr, mode: tx })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the mode.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
) {
    let mut listener = Some(listener);
    loop {
        let current = *mode.borrow_and_update();
        if current == Mode::Refuse {
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = &listener else {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((socket, _)) = accepted {
                    tokio::spawn(connection(socket, upstream, mode.clone()));
                }
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Completes when the mode turns into one that breaks connections (never if the proxy is gone).
async fn broken(mut mode: watch::Receiver<Mode>) {
    loop {
        if mode.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if mode.borrow().breaks_connections() {
            return;
        }
    }
}

async fn connection(client: TcpStream, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    let current = *mode.borrow();
    match current {
        Mode::Refuse => {}
        Mode::Hang => {
            // Read and discard until the client gives up or the fault ends.
            let mut buf = [0u8; 4096];
            let mut client = client;
            let mut mode = mode;
            loop {
                tokio::select! {
                    n = client.read(&mut buf) => if !matches!(n, Ok(n) if n > 0) { return },
                    changed = mode.changed() => if changed.is_err() || *mode.borrow() != Mode::Hang { return },
                }
            }
        }
        Mode::Pass | Mode::Delay(_) => {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let requests = {
                let mode = mode.clone();
                async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let delay = match *mode.borrow() {
                            Mode::Delay(d) => Some(d),
                            _ => None,
                        };
                        if let Some(d) = delay {
                            tokio::time::sleep(d).await;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            };
            let answers = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            };
            tokio::select! {
                () = requests => {}
                () = answers => {}
                () = broken(mode) => {}
            }
        }
    }
}
