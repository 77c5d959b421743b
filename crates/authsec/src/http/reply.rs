//! [`Reply`]: the future of a stage that decides without waiting — a denial now, or the next
//! stage's response.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::filter::ResponseBody;

pin_project! {
    /// A stage's answer: its own denial, or the next stage's future.
    pub struct Reply<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        // Boxed: denials are the rare path, and every future that holds a `Reply` is moved
        // from stage to stage.
        Denied { response: Option<Box<Response<ResponseBody<B>>>> },
        Next { #[pin] future: F },
    }
}

impl<F, B> Reply<F, B> {
    pub(super) fn denied(response: Response<ResponseBody<B>>) -> Self {
        Reply {
            kind: Kind::Denied {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(super) fn next(future: F) -> Self {
        Reply {
            kind: Kind::Next { future },
        }
    }
}

impl<F, B, E> Future for Reply<F, B>
where
    F: Future<Output = Result<Response<ResponseBody<B>>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Denied { response } => {
                let response = response.take().expect("Reply polled after completion");
                Poll::Ready(Ok(*response))
            }
            KindProj::Next { future } => future.poll(cx),
        }
    }
}

impl<F, B> std::fmt::Debug for Reply<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Denied { .. } => "Reply::Denied",
            Kind::Next { .. } => "Reply::Next",
        })
    }
}
