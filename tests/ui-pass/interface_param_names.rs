//! `#[tars_interface]` parameters named like the locals of the generated code (servant
//! dispatcher and proxy), in and out, and a parameter type named `T`, round-tripped through
//! a real server and proxy.

use std::sync::Arc;
use tars_core::prelude::*;

/// A user type named like the usual generic parameter.
#[derive(Debug, Clone, PartialEq, TarsStruct)]
#[tars(name = "Test.T")]
pub struct T {
    #[tars(tag = 0)]
    pub v: i32,
}

#[tars_interface]
pub trait Names {
    /// In parameters named like the dispatcher's and the proxy's locals.
    #[allow(clippy::too_many_arguments)]
    async fn ins(
        &self,
        out: i32,
        params: String,
        current: i32,
        reader: i32,
        writer: i32,
        proxy: i32,
        ret: i32,
        func: String,
        e: i32,
        reply: i32,
        __ret: i32,
        __params: i32,
        __reply: i32,
        __tars_params: i32,
        __tars_arg1: i32,
        t: T,
    ) -> TarsResult<String>;

    /// Out parameters named like the locals, after a `&Current` with another name.
    async fn outs(
        &self,
        cur: &Current,
        current: String,
        out: &mut i32,
        ret: &mut String,
        params: &mut i32,
        __ret: &mut i32,
        __reply: &mut i32,
        __tars_out2: &mut i32,
        t: &mut T,
    ) -> TarsResult<i32>;

    /// A void operation with one out parameter named `out`.
    async fn void_out(&self, out: &mut String) -> TarsResult<()>;
}

struct Impl;

impl Names for Impl {
    async fn ins(
        &self,
        out: i32,
        params: String,
        current: i32,
        reader: i32,
        writer: i32,
        proxy: i32,
        ret: i32,
        func: String,
        e: i32,
        reply: i32,
        __ret: i32,
        __params: i32,
        __reply: i32,
        __tars_params: i32,
        __tars_arg1: i32,
        t: T,
    ) -> TarsResult<String> {
        let sum = out
            + current
            + reader
            + writer
            + proxy
            + ret
            + e
            + reply
            + __ret
            + __params
            + __reply
            + __tars_params
            + __tars_arg1
            + t.v;
        Ok(format!("{params}/{func}/{sum}"))
    }

    async fn outs(
        &self,
        cur: &Current,
        current: String,
        out: &mut i32,
        ret: &mut String,
        params: &mut i32,
        __ret: &mut i32,
        __reply: &mut i32,
        __tars_out2: &mut i32,
        t: &mut T,
    ) -> TarsResult<i32> {
        assert_eq!(cur.func_name(), "outs");
        *out = 1;
        *ret = format!("{current}!");
        *params = 3;
        *__ret = 4;
        *__reply = 5;
        *__tars_out2 = 6;
        *t = T { v: 7 };
        Ok(100)
    }

    async fn void_out(&self, out: &mut String) -> TarsResult<()> {
        *out = "void".into();
        Ok(())
    }
}

const OBJ: &str = "Test.NamesServer.NamesObj";

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::builder()
            .servant(OBJ, "tcp -h 127.0.0.1 -p 0 -t 60000", NamesServant::from_arc(Arc::new(Impl)))
            .start()
            .await
            .expect("server starts");
        let port = server.endpoint(OBJ).expect("bound").port;
        let proxy: NamesProxy = Communicator::new()
            .string_to_proxy(&format!("{OBJ}@tcp -h 127.0.0.1 -p {port} -t 10000"))
            .expect("proxy");

        let got = proxy
            .ins(1, "p", 2, 3, 4, 5, 6, "f", 7, 8, 9, 10, 11, 12, 13, &T { v: 14 })
            .await
            .expect("ins");
        assert_eq!(got, format!("p/f/{}", (1..=14).sum::<i32>()));

        let got = proxy.outs("cur").await.expect("outs");
        assert_eq!(got, (100, 1, "cur!".to_string(), 3, 4, 5, 6, T { v: 7 }));

        assert_eq!(proxy.void_out().await.expect("void_out"), "void");
        server.shutdown().await;
    });
}
