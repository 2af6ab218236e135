fn main() {
    for (r, p) in [("US", "+4917984125927"), ("DE", "+4917984125927"), ("DE", "017984125927"), ("US", "+4915112345678"), ("US","+4917012345678"), ("US","+491701234567"), ("GB", "+44 (0)7265 700298"), ("US", "+44 (0)7265 700298"), ("US", "+447265700298"), ("US","+33612345678"), ("DE","0151 12345678"), ("DE","0049 151 12345678")] {
        let id: phonenumber::country::Id = r.parse().unwrap();
        match phonenumber::parse(Some(id), p) {
            Ok(n) => println!("{r} {p} -> {:?} valid={} type={:?}", n.national(), phonenumber::is_valid(&n), n.number_type(&phonenumber::metadata::DATABASE)),
            Err(e) => println!("{r} {p} -> ERR {e:?}"),
        }
    }
}
